"""Amazon 2014 in the P5 / S3-Rec / TIGER format (``sequential_data.txt`` + ``datamaps.json``).

* ``sequential_data.txt``: one user a line, ``user_id item_id item_id ...``; 1-based integer
  ids, items in chronological order.
* ``datamaps.json``: ``id2item`` (item id -> ASIN) and ``id2user`` (user id -> reviewer id);
  ``item2id`` / ``user2id`` are used when the ``id2*`` maps are absent.
* ``item_text_proxy.txt`` (optional): ``ASIN word word ...``, the 3-7 word text the IDGenRec
  ID generator made from the metadata. It is a PROXY, not the real title.
* ``item2attributes.json`` (optional): S3-Rec's ``{item_id: [attribute id, ...]}``, the
  item's brand and category codes (integers without names), same item numbering.

The file's item numbering is kept (item id ``k`` in the file is item index ``k``) so that
results are comparable with the TIGER re-implementations; users keep the file's line order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from genrec_bench.data.loaders._common import (
    as_int,
    check_contiguous,
    csr_offsets,
    decode,
    read_bytes,
    read_json,
    split_int_lines,
)
from genrec_bench.data.types import ItemAttributes, ItemText, SequenceDataset, Sequences
from genrec_bench.errors import DataError

FORMAT = "p5"
REQUIRED = ("sequences", "datamaps")
OPTIONAL = ("text", "attributes")
MULTI: tuple[str, ...] = ()
OPTIONS = ("min_length",)

PROXY_DESCRIPTION = (
    "IDGenRec proxy text: 3-7 words per item produced by the IDGenRec item-ID generator from "
    "the metadata (mostly title fragments); NOT the real title or metadata")


def _id_map(path: Path, maps: dict[str, Any], kind: str) -> np.ndarray:
    """str ``[n + 1]``: entry ``k`` is the raw id of ``kind`` id ``k`` (entry 0 unused)."""
    forward, backward = f"id2{kind}", f"{kind}2id"
    if isinstance(maps.get(forward), dict):
        pairs = [(as_int(path, k, f"{forward} key", key=forward), str(v))
                 for k, v in maps[forward].items()]
    elif isinstance(maps.get(backward), dict):
        pairs = [(as_int(path, v, f"{backward} value", key=f"{backward}.{k}"), str(k))
                 for k, v in maps[backward].items()]
    else:
        raise DataError(path, f"expected a JSON object under {forward!r} (or {backward!r}) "
                              f"mapping {kind} ids to raw ids", key=forward)
    ids = np.array([i for i, _ in pairs], dtype=np.int64)
    n = len(pairs)
    if n == 0 or ids.min() != 1 or ids.max() != n or np.unique(ids).size != n:
        raise DataError(path, f"{kind} ids must be exactly 1..{n}", key=forward)
    out = np.empty(n + 1, dtype=object)
    out[0] = "<pad>"
    out[ids] = [raw for _, raw in pairs]
    return out.astype(str)


def _proxy_text(path: Path, item_ids: np.ndarray) -> tuple[ItemText, dict[str, int]]:
    """``ItemText`` with one field ``text`` from an ``ASIN word word ...`` file.

    A line with an ASIN and no words lists the item with an empty text (Beauty has one:
    the ID generator produced no words for it); ASINs not in ``datamaps.json`` are counted
    and ignored.
    """
    index = {raw: i for i, raw in enumerate(item_ids) if i > 0}
    column = [""] * item_ids.shape[0]
    listed = np.zeros(item_ids.shape[0], dtype=bool)
    unknown = 0
    for line in decode(path, read_bytes(path)).splitlines():
        asin, _, words = line.strip().partition(" ")
        if not asin:
            continue
        i = index.get(asin)
        if i is None:
            unknown += 1
            continue
        listed[i] = True
        column[i] = words.strip()
    n_items = item_ids.shape[0] - 1
    covered = sum(1 for t in column[1:] if t)
    stats = {"items": n_items, "items_listed": int(listed[1:].sum()), "items_with_text": covered,
             "unknown_asins": unknown}
    description = (f"{PROXY_DESCRIPTION}; from {path.name}: {stats['items_listed']} of {n_items} "
                   f"items listed, {covered} with a non-empty text")
    return ItemText(fields={"text": column}, is_proxy=True, description=description), stats


def _attributes(path: Path, n_items: int) -> ItemAttributes:
    """S3-Rec's ``{"item_id": [code, ...]}``; items it does not list get no codes."""
    table = read_json(path)
    if not isinstance(table, dict):
        raise DataError(path, f"expected a JSON object {{item id: [attribute ids]}}, got {type(table).__name__}")
    per_item: list[list[int]] = [[] for _ in range(n_items + 1)]
    for key, codes in table.items():
        item = as_int(path, key, "item id", key=key)
        if not 1 <= item <= n_items:
            raise DataError(path, f"item id {item} is outside 1..{n_items} (sequential_data.txt)", key=key)
        if not isinstance(codes, list):
            raise DataError(path, f"expected a list of attribute ids, got {type(codes).__name__}", key=key)
        values = [as_int(path, c, "attribute id", key=key) for c in codes]
        if any(v < 1 for v in values):
            raise DataError(path, "attribute ids must be positive integers", key=key)
        per_item[item] = sorted(set(values))
    lengths = np.array([len(c) for c in per_item], dtype=np.int64)
    flat = np.array([c for codes in per_item for c in codes], dtype=np.int64)
    n_attributes = int(flat.max()) if flat.size else 0
    if n_attributes == 0:
        raise DataError(path, "no item has an attribute id")
    listed = int((lengths[1:] > 0).sum())
    description = (f"S3-Rec brand/category codes (integers without names) from {path.name}: "
                   f"{listed} of {n_items} items with codes, {n_attributes} codes")
    return ItemAttributes(codes=Sequences(items=flat, offsets=csr_offsets(lengths)), n_attributes=n_attributes,
                          description=description)


def load(*, name: str, sequences: Path, datamaps: Path, text: Path | None = None,
         attributes: Path | None = None, min_length: int = 5) -> SequenceDataset:
    """Read the P5 files into a ``SequenceDataset`` keeping the file's numbering.

    Args:
        name: registered dataset name.
        sequences: ``sequential_data.txt``.
        datamaps: ``datamaps.json``.
        text: ``item_text_proxy.txt`` or None.
        attributes: ``item2attributes.json`` or None.
        min_length: every user must have at least this many items (the P5 data: 5).
    """
    sequences, datamaps = Path(sequences), Path(datamaps)
    rows, lengths = split_int_lines(sequences)
    if not rows:
        raise DataError(sequences, "the file has no users")
    n_items_per_user = lengths - 1
    short = np.flatnonzero(n_items_per_user < max(min_length, 1))
    if short.size:
        r = int(short[0])
        what = "an empty sequence (a user id and no items)" if n_items_per_user[r] == 0 else \
            f"{int(n_items_per_user[r])} items"
        raise DataError(sequences, f"user {rows[r][0].decode()} has {what}; every user needs "
                                   f"at least {min_length} items", line=r + 1)
    users = np.fromiter((int(row[0]) for row in rows), dtype=np.int64, count=len(rows))
    items = np.fromiter((int(t) for row in rows for t in row[1:]), dtype=np.int64,
                        count=int(n_items_per_user.sum()))
    line_of_item = np.repeat(np.arange(1, len(rows) + 1), n_items_per_user)

    maps = read_json(datamaps)
    if not isinstance(maps, dict):
        raise DataError(datamaps, f"expected a JSON object with id2item/id2user, got "
                                  f"{type(maps).__name__}")
    item_ids = _id_map(datamaps, maps, "item")
    user_map = _id_map(datamaps, maps, "user")
    n_items = item_ids.shape[0] - 1
    check_contiguous(sequences, items, n_items, first=1, where=line_of_item)

    bad_user = np.flatnonzero((users < 1) | (users >= user_map.shape[0]))
    if bad_user.size:
        r = int(bad_user[0])
        raise DataError(sequences, f"user id {int(users[r])} is not in {datamaps.name} "
                                   f"(1..{user_map.shape[0] - 1})", line=r + 1)
    _, first_seen, counts = np.unique(users, return_index=True, return_counts=True)
    if (counts > 1).any():
        dup = int(np.flatnonzero(counts > 1)[0])
        later = np.flatnonzero(users == users[first_seen[dup]])[1]
        raise DataError(sequences, f"user id {int(users[later])} occurs on more than one line",
                        line=int(later) + 1)

    item_text, text_stats = (None, None) if text is None else _proxy_text(Path(text), item_ids)
    provenance = {
        "source": str(sequences),
        "format": FORMAT,
        "item_index": "the file's item ids (item id k in sequential_data.txt = index k)",
        "user_order": "line order of sequential_data.txt",
        "min_length": int(n_items_per_user.min()),
        "text": text_stats,
        "attributes": None if attributes is None else Path(attributes).name,
    }
    return SequenceDataset(
        name=name,
        sequences=Sequences(items=items, offsets=csr_offsets(n_items_per_user)),
        user_ids=user_map[users],
        item_ids=item_ids,
        item_text=item_text,
        item_attributes=None if attributes is None else _attributes(Path(attributes), n_items),
        provenance=provenance,
    )
