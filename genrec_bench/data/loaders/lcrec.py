"""Amazon 2018 in the LC-Rec / LETTER format (``<Name>.inter.json`` and companions).

* ``<Name>.inter.json``: ``{"user_idx": [item_idx, ...]}``, 0-based indices, each list in
  chronological order.
* ``<Name>.item.json`` (optional): ``{"item_idx": {"title", "description", "brand",
  "categories"}}``: the real item metadata (``is_proxy=False``).
* ``<Name>.item2id`` / ``<Name>.user2id`` (optional): ``RAW_ID<TAB>idx``.

Item index = file index + 1 (0 is padding). Users are ordered by the numeric value of their
key. Without ``item2id`` / ``user2id`` the raw ids are the file's indices as strings.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np

from genrec_bench.data.loaders._common import (
    as_int,
    check_contiguous,
    csr_offsets,
    flatten_text,
    read_id_map,
    read_json,
)
from genrec_bench.data.types import ItemText, SequenceDataset, Sequences
from genrec_bench.errors import DataError

FORMAT = "lcrec"
REQUIRED = ("inter",)
OPTIONAL = ("item_text", "item2id", "user2id")
MULTI: tuple[str, ...] = ()
OPTIONS = ("min_length",)

TEXT_FIELDS = ("title", "description", "brand", "categories")


def _user_keys(path: Path, data: dict[str, Any]) -> tuple[list[str], np.ndarray]:
    """The keys in numeric order, and int64 ``[n_users]`` their values."""
    keys = list(data)
    numbers = np.fromiter((as_int(path, k, "a user key", key=k) for k in keys),
                          dtype=np.int64, count=len(keys))
    order = np.argsort(numbers, kind="stable")
    repeated = np.flatnonzero(np.diff(numbers[order]) == 0)
    if repeated.size:
        k = keys[int(order[repeated[0] + 1])]
        raise DataError(path, f"user key {k!r} repeats user {int(numbers[order[repeated[0]]])}",
                        key=k)
    return [keys[i] for i in order], numbers[order]


def _read_inter(path: Path, min_length: int) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Keys (numeric order), user numbers, int64 lengths ``[n_users]``, items ``[total]``."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise DataError(path, f"expected a JSON object {{user_idx: [item_idx, ...]}}, got a "
                              f"{type(data).__name__}")
    if not data:
        raise DataError(path, "the file has no users")
    keys, numbers = _user_keys(path, data)
    values = [data[k] for k in keys]
    if not all(type(v) is list for v in values):
        k = next(k for k, v in zip(keys, values, strict=True) if type(v) is not list)
        raise DataError(path, f"expected a list of item indices, got a {type(data[k]).__name__}",
                        key=k)
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    short = np.flatnonzero(lengths < max(min_length, 1))
    if short.size:
        k = keys[int(short[0])]
        what = "an empty sequence" if lengths[short[0]] == 0 else f"{int(lengths[short[0]])} items"
        raise DataError(path, f"user {k} has {what}; every user needs at least {min_length} items",
                        key=k)
    flat = list(itertools.chain.from_iterable(values))
    if not all(type(x) is int for x in flat):
        at = next(i for i, x in enumerate(flat) if type(x) is not int)
        k = keys[int(np.searchsorted(np.cumsum(lengths), at, side="right"))]
        raise DataError(path, f"item indices must be integers, got {flat[at]!r}", key=k)
    return keys, numbers, lengths, np.asarray(flat, dtype=np.int64)


def _item_text(path: Path, n_items: int) -> tuple[ItemText, dict[str, int]]:
    data = read_json(path)
    if not isinstance(data, dict):
        raise DataError(path, f"expected a JSON object {{item_idx: {{title, ...}}}}, got a "
                              f"{type(data).__name__}")
    columns = {f: [""] * (n_items + 1) for f in TEXT_FIELDS}
    for key, record in data.items():
        idx = as_int(path, key, "an item key", key=key)
        if idx >= n_items:
            raise DataError(path, f"item index {idx} is outside 0..{n_items - 1}", key=key)
        if not isinstance(record, dict):
            raise DataError(path, f"expected an object with {', '.join(TEXT_FIELDS)}, got a "
                                  f"{type(record).__name__}", key=key)
        for f in TEXT_FIELDS:
            columns[f][idx + 1] = flatten_text(record.get(f))
    covered = len(data)
    text = ItemText(fields=columns, is_proxy=False,
                    description=f"real Amazon 2018 item metadata (LC-Rec/LETTER {path.name}: "
                                f"{', '.join(TEXT_FIELDS)}), covers {covered} of {n_items} items")
    return text, {"items_with_text": covered, "items": n_items}


def load(*, name: str, inter: Path, item_text: Path | None = None, item2id: Path | None = None,
         user2id: Path | None = None, min_length: int = 5) -> SequenceDataset:
    """Read the LC-Rec files into a ``SequenceDataset`` (item index = file index + 1).

    Args:
        name: registered dataset name.
        inter: ``<Name>.inter.json``.
        item_text: ``<Name>.item.json`` or None.
        item2id: ``<Name>.item2id`` or None; ``user2id``: ``<Name>.user2id`` or None.
        min_length: every user must have at least this many items (LC-Rec data: 5).
    """
    inter = Path(inter)
    keys, numbers, lengths, items = _read_inter(inter, min_length)
    key_of_item = np.repeat(np.asarray(keys, dtype=object), lengths)
    if item2id is not None:
        raw_items = read_id_map(Path(item2id))
        n_items = raw_items.shape[0]
    else:
        raw_items = None
        n_items = int(items.max()) + 1 if items.size else 0
    check_contiguous(inter, items, n_items, first=0, where=key_of_item, where_kind="key")
    item_ids = np.empty(n_items + 1, dtype=object)
    item_ids[0] = "<pad>"
    item_ids[1:] = raw_items if raw_items is not None else np.arange(n_items).astype(str)

    if user2id is not None:
        raw_users = read_id_map(Path(user2id))
        outside = np.flatnonzero(numbers >= raw_users.shape[0])
        if outside.size:
            raise DataError(inter, f"user {keys[outside[0]]} is not in {Path(user2id).name} "
                                   f"(0..{raw_users.shape[0] - 1})", key=keys[outside[0]])
        user_ids = raw_users[numbers]
    else:
        user_ids = np.asarray(keys).astype(str)

    text, text_stats = (None, None) if item_text is None else _item_text(Path(item_text), n_items)
    provenance = {
        "source": str(inter),
        "format": FORMAT,
        "item_index": "file item index + 1",
        "user_order": "numeric order of the user keys",
        "min_length": int(lengths.min()),
        "text": text_stats,
    }
    return SequenceDataset(
        name=name,
        sequences=Sequences(items=items + 1, offsets=csr_offsets(lengths)),
        user_ids=user_ids,
        item_ids=item_ids.astype(str),
        item_text=text,
        provenance=provenance,
    )
