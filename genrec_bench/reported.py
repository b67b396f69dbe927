"""The registry of reported numbers: paper values, typed by hand once, loaded and checked here.

``results/reported/*.toml`` hold every number the suite quotes from a paper (and never one of
our own results). Each file is an array of tables::

    [[number]]
    paper = "FlexCode (Hui et al. 2025, arXiv 2511.20673)"
    table = "Table 1"
    dataset = "amazon2014-beauty"
    dataset_version = "Amazon 2014 5-core ..."
    method = "sasrec"
    method_label = "SASRec"
    metric = "ndcg@10"
    setting = "L=4"          # optional: the varied setting of a sensitivity table
    value = 0.0318
    protocol = "full"        # full | sampled
    source = "primary"       # primary | secondary | unverified
    note = ""                # optional

:func:`load_reported` validates every entry and refuses the whole registry on the first bad
one, with a :class:`~genrec_bench.errors.DataError` that names the file, the entry and the key.
:func:`lookup` filters the loaded numbers.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genrec_bench.errors import DataError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser as the tomli package
    import tomli as tomllib

#: where the registry lives in the checkout
DEFAULT_DIRECTORY = Path(__file__).resolve().parent.parent / "results" / "reported"

METRIC_NAMES = ("recall", "ndcg", "mrr")
PROTOCOLS = ("full", "sampled")
SOURCES = ("primary", "secondary", "unverified")

_STRING_KEYS = ("paper", "table", "dataset", "dataset_version", "method", "method_label",
                "metric", "protocol", "source")
REQUIRED_KEYS = (*_STRING_KEYS, "value")
OPTIONAL_KEYS = ("setting", "note")

_METRIC = re.compile(r"^(?P<name>[a-z]+)@(?P<k>[1-9][0-9]*)$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9.+-]*$")  # suite-style names: lower case, no spaces
_ENTRY_HEADER = re.compile(r"^\s*\[\[\s*number\s*\]\]")


@dataclass(frozen=True)
class ReportedNumber:
    """One value printed in one paper table for one (dataset, method, metric[, setting])."""

    paper: str
    table: str
    dataset: str
    dataset_version: str
    method: str
    method_label: str
    metric: str
    value: float
    protocol: str
    source: str
    note: str = ""
    setting: str | None = None

    @property
    def key(self) -> tuple[str, str, str, str, str, str | None]:
        """What makes an entry unique: (paper, table, dataset, method, metric, setting)."""
        return (self.paper, self.table, self.dataset, self.method, self.metric, self.setting)


def load_reported(directory: Path | None = None) -> list[ReportedNumber]:
    """Every entry of every ``*.toml`` file in ``directory`` (default: ``results/reported``).

    Files are read in name order and entries in file order. Raises :class:`DataError` for a
    missing directory, a directory without TOML files, invalid TOML, a malformed entry or a
    duplicate (paper, table, dataset, method, metric, setting) key, within or across files.
    """
    directory = DEFAULT_DIRECTORY if directory is None else Path(directory)
    if not directory.is_dir():
        raise DataError(directory, "the registry directory of reported numbers does not exist")
    paths = sorted(directory.glob("*.toml"))
    if not paths:
        raise DataError(directory, "no *.toml files of reported numbers in this directory")
    numbers: list[ReportedNumber] = []
    seen: dict[tuple, tuple[Path, int]] = {}
    for path in paths:
        for index, number, line in _load_file(path):
            if number.key in seen:
                first_path, first_index = seen[number.key]
                raise DataError(
                    path, f"duplicate entry: (paper, table, dataset, method, metric, setting) = "
                    f"{number.key!r} is already given by {first_path.name} number[{first_index}]",
                    line=line, key=f"number[{index}]")
            seen[number.key] = (path, index)
            numbers.append(number)
    return numbers


def lookup(numbers: list[ReportedNumber], *, paper_contains: str | None = None,
           table: str | None = None, dataset: str | None = None, method: str | None = None,
           metric: str | None = None, setting: str | None = None) -> list[ReportedNumber]:
    """The numbers matching every given filter, in registry order.

    ``paper_contains`` is a case-insensitive substring of ``paper``; the other filters are
    exact. A filter left at ``None`` matches everything (so ``setting=None`` does not select
    the entries without a setting; test ``n.setting is None`` for that).
    """
    needle = paper_contains.lower() if paper_contains is not None else None
    return [n for n in numbers
            if (needle is None or needle in n.paper.lower())
            and (table is None or n.table == table)
            and (dataset is None or n.dataset == dataset)
            and (method is None or n.method == method)
            and (metric is None or n.metric == metric)
            and (setting is None or n.setting == setting)]


#: which source a table prefers when several give a number: the paper itself first
SOURCE_ORDER = {"primary": 0, "secondary": 1, "unverified": 2}


def paper_number(numbers: list[ReportedNumber], dataset: str, method: str, metric: str) -> ReportedNumber | None:
    """The paper's number for ``method`` on ``dataset`` under the standard full-ranking protocol
    and no special setting: primary sources first, then by paper and table name (None if none)."""
    matches = [n for n in numbers if n.dataset == dataset and n.method == method and n.metric == metric
               and n.protocol == "full" and n.setting is None]
    return min(matches, key=lambda n: (SOURCE_ORDER[n.source], n.paper, n.table)) if matches else None


def _load_file(path: Path) -> list[tuple[int, ReportedNumber, int | None]]:
    """(index, number, line of its ``[[number]]`` header or None) for each entry of ``path``."""
    text = path.read_text(encoding="utf-8")
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataError(path, f"not valid TOML: {exc}") from exc
    unknown = sorted(set(document) - {"number"})
    if unknown:
        raise DataError(path, f"unknown top-level keys {unknown}; the file holds only "
                        "[[number]] entries", key=unknown[0])
    entries = document.get("number", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise DataError(path, "'number' must be an array of tables ([[number]] entries)",
                        key="number")
    header_lines = [i + 1 for i, ln in enumerate(text.splitlines()) if _ENTRY_HEADER.match(ln)]
    if len(header_lines) != len(entries):  # e.g. inline tables: no line numbers then
        header_lines = [None] * len(entries)
    return [(index, _validate(path, index, entry, line), line)
            for index, (entry, line) in enumerate(zip(entries, header_lines, strict=True))]


def _validate(path: Path, index: int, entry: dict[str, Any], line: int | None) -> ReportedNumber:
    def fail(key: str, problem: str) -> DataError:
        return DataError(path, f"entry number[{index}]: {problem}", line=line,
                         key=f"number[{index}].{key}")

    unknown = sorted(set(entry) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        raise fail(unknown[0], f"unknown key {unknown[0]!r}; allowed keys: "
                   f"{', '.join(REQUIRED_KEYS + OPTIONAL_KEYS)}")
    for key in REQUIRED_KEYS:
        if key not in entry:
            raise fail(key, f"required key {key!r} is missing")
    for key in _STRING_KEYS:
        if not isinstance(entry[key], str) or not entry[key].strip():
            raise fail(key, f"{key} must be a non-empty string, got {entry[key]!r}")
    for key in ("dataset", "method"):
        if not _SLUG.match(entry[key]):
            raise fail(key, f"{key} {entry[key]!r} must be a lower-case name without spaces "
                       "(letters, digits, '.', '+', '-')")

    value = entry["value"]
    if not isinstance(value, float):
        raise fail("value", f"value must be a float (e.g. 0.0318), got {value!r}")
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise fail("value", f"value {value!r} is outside [0, 1]")
    match = _METRIC.match(entry["metric"])
    if match is None or match["name"] not in METRIC_NAMES:
        raise fail("metric", f"metric {entry['metric']!r} must be name@K with name in "
                   f"{METRIC_NAMES} and K a positive integer, e.g. 'ndcg@10'")
    if entry["protocol"] not in PROTOCOLS:
        raise fail("protocol", f"protocol {entry['protocol']!r} must be one of {PROTOCOLS}")
    if entry["source"] not in SOURCES:
        raise fail("source", f"source {entry['source']!r} must be one of {SOURCES}")
    note = entry.get("note", "")
    if not isinstance(note, str):
        raise fail("note", f"note must be a string, got {note!r}")
    setting = entry.get("setting")
    if setting is not None and (not isinstance(setting, str) or not setting.strip()):
        raise fail("setting", f"setting must be a non-empty string when given, got {setting!r}")

    return ReportedNumber(
        paper=entry["paper"], table=entry["table"], dataset=entry["dataset"],
        dataset_version=entry["dataset_version"], method=entry["method"],
        method_label=entry["method_label"], metric=entry["metric"], value=value,
        protocol=entry["protocol"], source=entry["source"], note=note, setting=setting)
