"""KuaiRand (KuaiRand-1K, KuaiRand-Pure): the official ``log_standard_*.csv`` files.

Positives are the rows with ``is_click == 1``; the files (several, e.g.
``log_standard_4_08_to_4_21_pure.csv`` and ``log_standard_4_22_to_5_08_pure.csv``) are
concatenated in the order given (the catalog sorts them by name), then each user's clicks
are ordered by ``time_ms`` (stable, so equal times keep file order) and filtered to the
5-core. User and video ids are KuaiRand's integers; the log keeps them as int64 and the
dataset's ``user_ids`` / ``item_ids`` hold them as strings.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from genrec_bench.data.kcore import build_sequences
from genrec_bench.data.loaders._common import require_file
from genrec_bench.data.types import InteractionLog, SequenceDataset
from genrec_bench.errors import DataError

FORMAT = "kuairand"
REQUIRED = ("logs",)
OPTIONAL: tuple[str, ...] = ()
MULTI = ("logs",)
OPTIONS = ("k_core",)

#: the official columns of ``log_standard_*.csv``
SCHEMA = ("user_id", "video_id", "date", "hourmin", "time_ms", "is_click", "is_like",
          "is_follow", "is_comment", "is_forward", "is_hate", "long_view", "play_time_ms",
          "duration_ms", "profile_stay_time", "comment_stay_time", "is_profile_enter",
          "is_rand", "tab")
#: the columns the loader reads
USED = ("user_id", "video_id", "time_ms", "is_click")


def _header(path: Path) -> list[str]:
    try:
        return list(pd.read_csv(path, nrows=0).columns)
    except pd.errors.EmptyDataError as error:
        raise DataError(path, "the file is empty (expected a CSV header)") from error
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataError(path, f"cannot read the CSV header: {error}", line=1) from error


def _integer_column(path: Path, frame: pd.DataFrame, column: str) -> np.ndarray:
    """int64 ``[n]``; DataError naming the line of the first value that is not an integer."""
    values = frame[column]
    if pd.api.types.is_integer_dtype(values.dtype) and not values.isna().any():
        return values.to_numpy(dtype=np.int64)
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna().to_numpy() | (numbers.to_numpy(dtype=float, na_value=0.5) % 1 != 0)
    rows = np.flatnonzero(bad)
    if rows.size:
        r = int(rows[0])
        raise DataError(path, f"column {column!r} must hold integers, got {values.iloc[r]!r}",
                        line=r + 2, key=column)  # +1 for the header, +1 for 1-based lines
    return numbers.to_numpy(dtype=np.int64)


def read_clicks(path: Path) -> pd.DataFrame:
    """The clicked rows of one log file: int64 columns user_id, video_id, time_ms."""
    path = require_file(path)
    header = _header(path)
    missing = [c for c in USED if c not in header]
    if missing:
        raise DataError(path, f"missing column {missing[0]!r}; the official KuaiRand schema "
                              f"has {', '.join(SCHEMA)}", key=missing[0])
    try:
        frame = pd.read_csv(path, usecols=list(USED), engine="c", low_memory=False)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        raise DataError(path, f"cannot parse the CSV: {error}") from error
    columns = {c: _integer_column(path, frame, c) for c in USED}
    click = columns["is_click"]
    not_binary = np.flatnonzero((click != 0) & (click != 1))
    if not_binary.size:
        r = int(not_binary[0])
        raise DataError(path, f"is_click must be 0 or 1, got {int(click[r])}", line=r + 2,
                        key="is_click")
    keep = click == 1
    return pd.DataFrame({c: columns[c][keep] for c in ("user_id", "video_id", "time_ms")})


def read_log(paths: list[Path]) -> InteractionLog:
    """The clicks of all ``paths`` concatenated in the given order.

    Returns:
        ``InteractionLog`` of ``n`` clicks: int64 user and video ids and ``time_ms`` ``[n]``.
    """
    if not paths:
        raise DataError("log_standard_*.csv", "no KuaiRand log file was given")
    frames = [read_clicks(Path(p)) for p in paths]
    clicks = pd.concat(frames, ignore_index=True)
    source = ", ".join(str(p) for p in paths)
    if clicks.empty:
        raise DataError(source, "no row has is_click == 1")
    return InteractionLog(user=clicks["user_id"].to_numpy(), item=clicks["video_id"].to_numpy(),
                          timestamp=clicks["time_ms"].to_numpy(), source=source)


def load(*, name: str, logs: list[Path] | Path, k_core: int = 5) -> SequenceDataset:
    """Clicks ordered by ``time_ms``, 5-core filtered, one sequence per user."""
    paths = [Path(logs)] if isinstance(logs, str | Path) else [Path(p) for p in logs]
    log = read_log(paths)
    dataset = build_sequences(log, name=name, k_core=k_core, chronological=True)
    return replace(dataset, provenance={**dataset.provenance, "format": FORMAT,
                                        "positives": "is_click == 1", "time": "time_ms"})
