"""Search spaces for hyper-parameter tuning, read from a TOML file.

A space names config fields by the same dotted paths as ``--set`` and gives each a range or a
list of choices::

    [objective]
    metric = "ndcg@10"          # a validation metric, maximised

    [params.lr]
    low = 1e-4
    high = 1e-2
    log = true                  # float, sampled on a log scale

    [params.dropout]
    low = 0.1
    high = 0.6                  # float (a bound is a float)

    [params.max_len]
    choices = [20, 50, 100]     # categorical

    [params.n_layers]
    low = 1
    high = 3                    # int (both bounds are ints); optional step = 1

The objective is always measured on the validation split: a tuning study never reads test
metrics to choose. Every key and value is checked when the file is read, and every candidate
bound or choice is applied to the method's config, so a typo or an impossible value fails with
a one-line error naming the file and key before the first trial trains.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genrec_bench.errors import ConfigError
from genrec_bench.evaluation.result import parse_metric


@dataclass(frozen=True)
class FloatParam:
    """A float in ``[low, high]``, uniform or on a log scale."""

    name: str
    low: float
    high: float
    log: bool = False


@dataclass(frozen=True)
class IntParam:
    """An int in ``[low, high]`` (both included) on a grid of ``step``."""

    name: str
    low: int
    high: int
    step: int = 1


@dataclass(frozen=True)
class CategoricalParam:
    """One of ``choices`` (bools, ints, floats or strings)."""

    name: str
    choices: tuple


Param = FloatParam | IntParam | CategoricalParam


@dataclass(frozen=True)
class SearchSpace:
    """The parameters a study samples and the validation metric it maximises.

    Attributes:
        params: one entry per config field (dotted path), in file order.
        metric: a validation metric name such as ``"ndcg@10"``.
        source: the file it was read from (for messages and records), or ``None``.
    """

    params: tuple[Param, ...]
    metric: str = "ndcg@10"
    source: str | None = None

    def candidates(self) -> list[dict[str, Any]]:
        """Overrides that together touch every bound and choice of every parameter, each
        applied alone (used to check a space against a method's config)."""
        values: list[dict[str, Any]] = []
        for p in self.params:
            if isinstance(p, CategoricalParam):
                values += [{p.name: c} for c in p.choices]
            else:
                values += [{p.name: p.low}, {p.name: p.high}]
        return values


def _fail(where: str, message: str) -> ConfigError:
    return ConfigError(f"{where}: {message}")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _param(name: str, table: Any, where: str) -> Param:
    if not isinstance(table, Mapping):
        raise _fail(where, f"[params.{name}] must be a table with low/high or choices, got {table!r}")
    keys = set(table)
    if "choices" in keys:
        extra = keys - {"choices"}
        if extra:
            raise _fail(where, f"[params.{name}] has choices; unexpected keys {sorted(extra)}")
        choices = table["choices"]
        if not isinstance(choices, list) or not choices:
            raise _fail(where, f"[params.{name}].choices must be a non-empty list, got {choices!r}")
        if any(isinstance(c, (list, dict)) for c in choices):
            raise _fail(where, f"[params.{name}].choices must hold bools, numbers or strings")
        if len(set(map(repr, choices))) != len(choices):
            raise _fail(where, f"[params.{name}].choices has duplicates: {choices!r}")
        return CategoricalParam(name, tuple(choices))
    unknown = keys - {"low", "high", "log", "step"}
    if unknown or not {"low", "high"} <= keys:
        raise _fail(where, f"[params.{name}] needs low and high (and optionally log or step) or "
                           f"choices; got keys {sorted(keys)}")
    low, high = table["low"], table["high"]
    if not (_number(low) and _number(high)):
        raise _fail(where, f"[params.{name}] low and high must be numbers, got {low!r} and {high!r}")
    if not low < high:
        raise _fail(where, f"[params.{name}] needs low < high, got {low!r} and {high!r}")
    if isinstance(low, int) and isinstance(high, int):
        if "log" in keys:
            raise _fail(where, f"[params.{name}] log applies to float ranges (write 1.0, not 1)")
        step = table.get("step", 1)
        if not isinstance(step, int) or isinstance(step, bool) or step < 1:
            raise _fail(where, f"[params.{name}].step must be a positive int, got {step!r}")
        return IntParam(name, low, high, step)
    if "step" in keys:
        raise _fail(where, f"[params.{name}] step applies to int ranges")
    log = table.get("log", False)
    if not isinstance(log, bool):
        raise _fail(where, f"[params.{name}].log must be true or false, got {log!r}")
    if log and low <= 0:
        raise _fail(where, f"[params.{name}] a log range needs low > 0, got {low!r}")
    if not (math.isfinite(low) and math.isfinite(high)):
        raise _fail(where, f"[params.{name}] bounds must be finite")
    return FloatParam(name, float(low), float(high), log)


def parse_space(data: Mapping[str, Any], *, where: str = "search space") -> SearchSpace:
    """A :class:`SearchSpace` from the parsed TOML ``data``; ConfigError naming ``where``."""
    unknown = set(data) - {"objective", "params"}
    if unknown:
        raise _fail(where, f"unknown top-level keys {sorted(unknown)}; expected [objective] and [params.*]")
    objective = data.get("objective", {})
    if not isinstance(objective, Mapping) or set(objective) - {"metric"}:
        raise _fail(where, f"[objective] may hold only metric, got {objective!r}")
    metric = objective.get("metric", "ndcg@10")
    if not isinstance(metric, str):
        raise _fail(where, f"[objective].metric must be a string such as \"ndcg@10\", got {metric!r}")
    try:
        parse_metric(metric)
    except (ValueError, TypeError) as error:
        raise _fail(where, f"[objective].metric: {error}") from None
    params = data.get("params")
    if not isinstance(params, Mapping) or not params:
        raise _fail(where, "needs at least one [params.<config key>] table")
    flat: dict[str, Any] = {}
    _flatten_params(params, "", flat)
    return SearchSpace(tuple(_param(name, table, where) for name, table in flat.items()), metric,
                       where if where != "search space" else None)


def _flatten_params(params: Mapping[str, Any], prefix: str, out: dict[str, Any]) -> None:
    """``[params.training.lr]`` parses as nested tables; a table holding low/high/choices is a
    parameter, any other table a level of the dotted path."""
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and not ({"low", "high", "choices"} & set(value)):
            _flatten_params(value, f"{name}.", out)
        else:
            out[name] = value


def read_space(path: str | Path) -> SearchSpace:
    """Read and check the TOML file ``path``; ConfigError (one line) names the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: search-space file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the search space ({error})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None
    return parse_space(data, where=str(path))
