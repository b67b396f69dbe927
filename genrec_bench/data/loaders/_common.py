"""Helpers shared by the format loaders: reading files so that every failure is a DataError.

Every function here names the file, and the 1-based line or the JSON key where it applies,
in the error it raises; callers never see a bare ``KeyError``/``ValueError``/``JSONDecodeError``.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from genrec_bench.errors import DataError


def require_file(path: Path | str) -> Path:
    """``path`` as a Path; DataError when it is not an existing file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found" if not path.exists() else "not a regular file")
    return path


def read_bytes(path: Path) -> bytes:
    """The whole file (plain or ``.gz``)."""
    require_file(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return path.read_bytes()
    except (OSError, EOFError) as error:
        raise DataError(path, f"cannot read the file: {error}") from error


def decode(path: Path, data: bytes) -> str:
    """``data`` as UTF-8 text; DataError with the line of the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise DataError(path, f"not UTF-8 text ({error.reason})", line=line) from error


def read_json(path: Path) -> Any:
    """Parse a whole JSON file; a syntax error names its line."""
    text = decode(path, read_bytes(path))
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(path, f"invalid JSON: {error.msg} (column {error.colno})",
                        line=error.lineno) from error


def iter_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, line without its newline)`` for every non-blank line of a text or
    ``.gz`` file, streamed (the 2014 and 2018 Amazon files are large)."""
    require_file(path)
    opener = gzip.open if path.suffix == ".gz" else open
    number = 0
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                line = line.rstrip("\r\n")
                if line.strip():
                    yield number, line
    except UnicodeDecodeError as error:
        raise DataError(path, f"not UTF-8 text ({error.reason})", line=number + 1) from error
    except (OSError, EOFError) as error:
        raise DataError(path, f"cannot read the file: {error}", line=number + 1) from error


def parse_json_line(path: Path, number: int, line: str) -> dict[str, Any]:
    """One strict-JSON object per line."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise DataError(path, f"invalid JSON: {error.msg} (column {error.colno})",
                        line=number) from error
    if not isinstance(record, dict):
        raise DataError(path, f"expected a JSON object, got {type(record).__name__}", line=number)
    return record


def require_fields(path: Path, number: int, record: Mapping[str, Any],
                   fields: tuple[str, ...]) -> None:
    """DataError naming the first of ``fields`` missing from ``record``."""
    for name in fields:
        if name not in record:
            raise DataError(path, f"missing field {name!r} (expected fields: {', '.join(fields)})",
                            line=number, key=name)


def as_int(path: Path, value: Any, what: str, *, line: int | None = None,
           key: str | None = None) -> int:
    """``value`` as an int: an int (not bool) or a string of decimal digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit() and value.strip().isascii():
        return int(value.strip())
    raise DataError(path, f"{what} must be an integer, got {value!r}", line=line, key=key)


def split_int_lines(path: Path) -> tuple[list[list[bytes]], np.ndarray]:
    """Whitespace-separated non-negative integers, one record a line.

    Returns:
        the tokens of every line (line ``r + 1`` is entry ``r``) and int64 ``[n_lines]``
        token counts. Trailing blank lines are ignored; a blank line elsewhere, or a token
        that is not a decimal integer, is a DataError naming its line.
    """
    data = read_bytes(path)
    rows = [line.split() for line in data.rstrip().split(b"\n")] if data.strip() else []
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    blank = np.flatnonzero(lengths == 0)
    if blank.size:
        raise DataError(path, "blank line (expected integers separated by spaces)",
                        line=int(blank[0]) + 1)
    flat = [token for row in rows for token in row]
    if not all(map(bytes.isdigit, flat)):
        line_of = np.repeat(np.arange(len(rows)), lengths)
        bad = next(i for i, token in enumerate(flat) if not token.isdigit())
        raise DataError(path, f"expected a non-negative integer, got "
                              f"{flat[bad].decode('utf-8', 'replace')!r}",
                        line=int(line_of[bad]) + 1)
    return rows, lengths


def read_id_map(path: Path) -> np.ndarray:
    """An ``ID<TAB>index`` file (LC-Rec ``*.item2id`` / ``*.user2id``).

    Returns:
        str ``[n]``: the raw id of every index ``0..n-1`` (indices must be exactly these).
    """
    raw_ids: list[str] = []
    indices: list[int] = []
    for number, line in iter_lines(path):
        parts = line.split("\t")
        if len(parts) != 2 or not parts[0].strip():
            raise DataError(path, f"expected 'ID<TAB>index', got {line!r}", line=number)
        raw_ids.append(parts[0].strip())
        indices.append(as_int(path, parts[1], "the index", line=number))
    if not indices:
        raise DataError(path, "the file is empty")
    index = np.asarray(indices, dtype=np.int64)
    seen = np.bincount(index, minlength=index.size)
    if index.max() >= index.size or (seen != 1).any():
        bad = int(np.flatnonzero(seen != 1)[0]) if (seen != 1).any() else int(index.max())
        raise DataError(path, f"indices must be 0..{index.size - 1}, each once; index {bad} "
                              f"occurs {int(seen[bad]) if bad < seen.size else 0} times")
    out = np.empty(index.size, dtype=object)
    out[index] = raw_ids
    return out.astype(str)


def check_contiguous(path: Path, items: np.ndarray, n_items: int, *, first: int,
                     where: np.ndarray | None = None, where_kind: str = "line") -> None:
    """Every item id in ``first..first+n_items-1`` occurs, and none outside it.

    Args:
        items: int64 ``[total]`` item ids as the file writes them.
        where: ``[total]`` the line number (or key) of every entry, for the error.
    """
    low, high = first, first + n_items - 1
    outside = np.flatnonzero((items < low) | (items > high))
    if outside.size:
        at = None if where is None else where[outside[0]]
        raise DataError(path, f"item id {int(items[outside[0]])} is outside {low}..{high}",
                        line=int(at) if at is not None and where_kind == "line" else None,
                        key=str(at) if at is not None and where_kind == "key" else None)
    seen = np.bincount(items - first, minlength=n_items)
    missing = np.flatnonzero(seen == 0)
    if missing.size:
        ids = ", ".join(str(int(m) + first) for m in missing[:5])
        raise DataError(path, f"item ids must be contiguous {low}..{high}; {missing.size} never "
                              f"occur (first: {ids})")


def csr_offsets(lengths: np.ndarray) -> np.ndarray:
    """int64 ``[n + 1]`` offsets for sequences of ``lengths``."""
    offsets = np.zeros(lengths.shape[0] + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets


def _leaves(value: Any) -> Iterator[str]:
    if isinstance(value, list | tuple):
        for element in value:
            yield from _leaves(element)
    elif value is not None:
        text = f"{value:g}" if isinstance(value, float) else str(value).strip()
        if text:
            yield text


def flatten_text(value: Any, *, sep: str = ", ") -> str:
    """A metadata value as one string: lists (of lists) are flattened and joined with
    ``sep``, repeated entries kept once (2014 ``categories`` repeat their top level)."""
    if isinstance(value, str):
        return value.strip()
    return sep.join(dict.fromkeys(_leaves(value)))


def text_columns(item_ids: np.ndarray, records: Mapping[str, Mapping[str, Any]],
                 fields: Mapping[str, tuple[str, str]]) -> tuple[dict[str, list[str]], int]:
    """Item text aligned with item index.

    Args:
        item_ids: str ``[n_items + 1]`` raw item ids (entry 0 = padding).
        records: metadata record per raw item id.
        fields: ``{output field: (record key, separator for lists)}``.

    Returns:
        ``{field: n_items + 1 strings}`` (``""`` where missing) and the number of items
        that have a metadata record.
    """
    columns: dict[str, list[str]] = {name: [""] for name in fields}
    found = 0
    for raw in item_ids[1:]:
        record = records.get(str(raw))
        found += record is not None
        for name, (key, sep) in fields.items():
            columns[name].append("" if record is None else flatten_text(record.get(key), sep=sep))
    return columns, found
