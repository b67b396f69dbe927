"""Efficiency profile of the recorded runs: parameters, training time, memory, inference speed.

    python -m runners.efficiency [--dataset amazon2014-beauty] [--profile cpu]

Reads the ``efficiency`` and ``timings`` fields of each method's current runs (superseded
configurations are left out, ``genrec_bench/records/selection.py``) and writes
``results/efficiency/<dataset>-<profile>.md`` (a table) and ``.png`` (bar plots). Compare
only runs measured on the same machine: the table lists each run's processor and device.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tabulate import tabulate

from genrec_bench.cli import OneLineParser, check_datasets
from genrec_bench.errors import GenRecError
from genrec_bench.records.atomic import atomic_write_bytes
from genrec_bench.records.selection import config_id
from genrec_bench.registry import PROFILE_NAMES
from genrec_bench.results import current_by_group, load_records

COLUMNS = (
    ("parameters", lambda r: r["efficiency"]["parameters"]["total"]),
    ("trainable", lambda r: r["efficiency"]["parameters"]["trainable"]),
    ("train s/epoch", lambda r: r["timings"].get("train_epoch_s_mean")),
    ("fit s", lambda r: r["timings"]["fit_s"]),
    ("train samples/s", lambda r: r["efficiency"].get("train_samples_per_s")),
    ("test ms/user", lambda r: r["efficiency"]["test_ms_per_user"]),
    ("test users/s", lambda r: r["efficiency"]["test_users_per_s"]),
    ("peak RSS MB", lambda r: max(r["efficiency"]["peak_rss_mb_after"].values())),
)


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(prog="python -m runners.efficiency", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="amazon2014-beauty")
    p.add_argument("--profile", default="cpu", choices=PROFILE_NAMES)
    p.add_argument("--results-dir", default="results")
    args = p.parse_args(argv)
    try:
        check_datasets([args.dataset])
        found = load_records(Path(args.results_dir), dataset=args.dataset, profile=args.profile)
    except GenRecError as error:   # an unknown dataset; a damaged record: named, with what to do
        print(f"error: {error}", file=sys.stderr)
        return 2
    records = [run for runs in current_by_group(found).values() for run in runs]
    if not records:   # nothing to show: an error, and the files of an earlier profile stay
        print(f"error: no {args.profile} records for {args.dataset} under {args.results_dir}/runs", file=sys.stderr)
        return 2
    rows, names, values = [], [], {name: [] for name, _ in COLUMNS}
    for record in sorted(records, key=lambda r: (r["method"], r["seed"])):
        label = f"{record['method']} (seed {record['seed']}, {config_id(record)})"
        names.append(label)
        row = [label]
        for name, get in COLUMNS:
            value = get(record)
            values[name].append(value or 0.0)
            row.append(value)
        env = record["environment"]
        row.append(f"{env.get('processor', '?')} x{env.get('torch_threads', '?')} threads, {env.get('device')}")
        rows.append(row)
    table = tabulate(rows, headers=["run", *[n for n, _ in COLUMNS], "machine"], tablefmt="github",
                     floatfmt=".3g", intfmt=",")
    out = Path(args.results_dir) / "efficiency" / f"{args.dataset}-{args.profile}"
    atomic_write_bytes(out.with_suffix(".md"), (f"# Efficiency: {args.dataset}, profile {args.profile}\n\n"
                                                f"{table}\n").encode())
    _plot(names, values, out.with_suffix(".png"), f"{args.dataset} ({args.profile})")
    print(table)
    print(f"\nwritten: {out.with_suffix('.md')}, {out.with_suffix('.png')}")
    return 0


def _plot(names: list[str], values: dict[str, list[float]], path: Path, title: str) -> None:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = ("parameters", "train s/epoch", "test ms/user", "peak RSS MB")
    fig, axes = plt.subplots(1, len(shown), figsize=(4 * len(shown), 0.5 * len(names) + 2))
    for ax, name in zip(axes, shown, strict=True):
        ax.barh(names, values[name], color="#4c72b0")
        ax.set_title(name)
        ax.invert_yaxis()
        if ax is not axes[0]:
            ax.set_yticklabels([])
    fig.suptitle(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


if __name__ == "__main__":
    raise SystemExit(main())
