"""Douban ratings (DTCDR / GA-DTCDR): ``user<TAB>item<TAB>rating[<TAB>timestamp]`` per line.

The files on the development machines have no timestamp column and their rows are not in
time order, so they load as an ``InteractionLog`` with ``timestamp=None`` and
``build_sequences`` refuses to make chronological sequences from them (a clear DataError).
A file with the fourth column (integer times) gives a 5-core chronological dataset.
Every rating counts as an interaction (no rating threshold).
"""

from __future__ import annotations

import csv
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from genrec_bench.data.kcore import build_sequences
from genrec_bench.data.loaders._common import require_file
from genrec_bench.data.types import InteractionLog, SequenceDataset
from genrec_bench.errors import DataError

FORMAT = "douban"
REQUIRED = ("ratings",)
OPTIONAL: tuple[str, ...] = ()
MULTI: tuple[str, ...] = ()
OPTIONS = ("k_core",)

COLUMNS = ("user", "item", "rating", "timestamp")
EXPECTED = "expected 'user<TAB>item<TAB>rating[<TAB>timestamp]' with integer ids"


def _first_bad(path: Path, frame: pd.DataFrame, bad: np.ndarray, problem: str) -> None:
    rows = np.flatnonzero(bad)
    if rows.size:
        r = int(rows[0])
        raw = "\t".join(v for v in frame.iloc[r].tolist() if v)
        raise DataError(path, f"{problem}; got {raw!r} ({EXPECTED})", line=r + 1)


def read_log(path: Path) -> InteractionLog:
    """All rows of a Douban ratings file.

    Returns:
        ``InteractionLog`` of ``n`` rows: str user and item ids, int64 timestamps ``[n]``
        when the file has the fourth column, else ``None``.
    """
    path = require_file(path)
    try:
        frame = pd.read_csv(path, sep="\t", header=None, names=list(COLUMNS), dtype=str,
                            skip_blank_lines=False, keep_default_na=False,
                            quoting=csv.QUOTE_NONE, engine="c")
    except pd.errors.ParserError as error:
        match = re.search(r"line (\d+), saw (\d+)", str(error))
        line = int(match.group(1)) if match else None
        saw = f" ({match.group(2)} fields)" if match else ""
        raise DataError(path, f"too many fields{saw}; {EXPECTED}", line=line) from error
    except pd.errors.EmptyDataError as error:
        raise DataError(path, "the file is empty") from error
    except UnicodeDecodeError as error:
        raise DataError(path, f"not UTF-8 text ({error.reason})") from error
    if frame.empty:
        raise DataError(path, "the file is empty")
    strip = {c: frame[c].str.strip() for c in COLUMNS}
    _first_bad(path, frame, (strip["user"] == "").to_numpy() | (strip["rating"] == "").to_numpy(),
               "missing fields")
    for column in ("user", "item"):
        digits = strip[column].str.fullmatch(r"\d+").to_numpy(dtype=bool)
        _first_bad(path, frame, ~digits, f"the {column} id is not an integer")
    rating = pd.to_numeric(strip["rating"], errors="coerce")
    _first_bad(path, frame, rating.isna().to_numpy(), "the rating is not a number")
    has_time = (strip["timestamp"] != "").to_numpy()
    timestamp = None
    if has_time.any():
        _first_bad(path, frame, ~has_time, "this row has no timestamp but others do")
        digits = strip["timestamp"].str.fullmatch(r"-?\d{1,18}").to_numpy(dtype=bool)
        _first_bad(path, frame, ~digits, "the timestamp is not an integer of at most 18 digits")
        timestamp = strip["timestamp"].astype(np.int64).to_numpy()
    return InteractionLog(user=strip["user"].to_numpy(dtype=str),
                          item=strip["item"].to_numpy(dtype=str),
                          timestamp=timestamp, source=str(path))


def load(*, name: str, ratings: Path, k_core: int = 5) -> SequenceDataset:
    """5-core chronological sequences; a DataError for files without timestamps."""
    log = read_log(Path(ratings))
    dataset = build_sequences(log, name=name, k_core=k_core, chronological=True)
    return replace(dataset, provenance={**dataset.provenance, "format": FORMAT})
