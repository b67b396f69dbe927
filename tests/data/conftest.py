"""Fixtures of the data tests: the real data root, and writers of small raw-format files."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

#: the shared real data: $GENREC_DATA, else ../shared/data next to the repository
DATA_ROOT = (Path(os.environ["GENREC_DATA"]) if os.environ.get("GENREC_DATA")
             else Path(__file__).resolve().parents[2] / ".." / "shared" / "data")


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The real data folder; the tests that need it are skipped when it is absent."""
    if not DATA_ROOT.is_dir():
        pytest.skip(f"real data folder {DATA_ROOT} is absent (set GENREC_DATA to run these tests)")
    return DATA_ROOT.resolve()


@pytest.fixture
def write_gz() -> Callable[[Path, Iterable[str]], Path]:
    """Write lines (each without newline) into a gzip file."""

    def write(path: Path, lines: Iterable[str]) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            for line in lines:
                handle.write(line + "\n")
        return path

    return write


@pytest.fixture
def write_reviews(write_gz) -> Callable[[Path, list[tuple[str, str, int]]], Path]:
    """A reviews file (strict JSON per line) from ``(user, item, time)`` rows."""

    def write(path: Path, rows: list[tuple[str, str, int]]) -> Path:
        return write_gz(path, (json.dumps({"reviewerID": u, "asin": i, "unixReviewTime": t,
                                           "overall": 5.0, "reviewText": "ok"})
                               for u, i, t in rows))

    return write
