"""Which records a table shows: the current configuration of a method, one run per seed.

A method's profile changes over the life of a suite (a new schedule, a fixed bug), and the
records made before the change stay in ``results/runs`` as history: their run ids differ in
the config hash (``<profile>-seed<seed>-<hash>``). A table must never average seeds run
under different configurations, nor show a superseded run as if it were current. The rule
used by every table, report and plot:

* the configuration shown is that of the newest record (by ``finished_at``) among the
  requested seeds;
* of that configuration, the newest record per seed;
* records of other configurations are superseded and left out (logged at INFO).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

log = logging.getLogger(__name__)


def config_id(record: dict) -> str:
    """The config hash of a record's run id (``cpu-seed0-ca5dd4f726`` -> ``ca5dd4f726``)."""
    return record["run_id"].rsplit("-", 1)[-1]


def current_runs(records: list[dict], seeds: Iterable[int] | None = None) -> list[dict]:
    """``records`` of one (dataset, method, profile) -> the runs to show, sorted by seed.

    ``seeds`` (``None`` = all) filters before the configuration is chosen. Raises
    ``ValueError`` if the records mix datasets, methods or profiles."""
    groups = {(r["dataset"], r["method"], r["profile"]) for r in records}
    if len(groups) > 1:
        raise ValueError(f"current_runs needs the records of one (dataset, method, profile), got {sorted(groups)}")
    wanted = None if seeds is None else set(seeds)
    chosen = sorted((r for r in records if wanted is None or r["seed"] in wanted),
                    key=lambda r: r.get("finished_at", ""))
    if not chosen:
        return []
    current = config_id(chosen[-1])
    by_seed = {r["seed"]: r for r in chosen if config_id(r) == current}
    superseded = sorted({r["run_id"] for r in chosen if config_id(r) != current})
    if superseded:
        (dataset, method, profile), = groups
        log.info("%s on %s (%s): showing config %s; superseded records left out: %s", method, dataset, profile,
                 current, ", ".join(superseded))
    return [by_seed[s] for s in sorted(by_seed)]
