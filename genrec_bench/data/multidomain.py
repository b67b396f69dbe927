"""Multi-domain datasets: ``a+b`` loads every domain with its own loader and merges them.

A multi-domain name joins registered dataset names with ``+``, e.g.
``amazon2014-beauty+amazon2014-sports``. The merged :class:`SequenceDataset`:

* keeps one sequence per (domain, user): **no user and no item is shared across domains**.
  Raw ids are prefixed with their domain (``amazon2014-beauty:B000052YM0``), so the same
  raw reviewer id in two domains stays two users (GenCDR, like its data processor, treats
  each domain's sequences separately and assumes no overlapping users);
* numbers items domain after domain: the items of domain ``d`` keep their order and are
  shifted by the number of items of the domains before it (index 0 stays the padding);
  users likewise (domain after domain, each domain's user order kept);
* carries ``domains`` (the names, in the order given), ``item_domain`` (int64
  ``[n_items + 1]``, ``-1`` for padding) and ``user_domain`` (int64 ``[n_users]``);
* carries item text only when every domain has text: the union of the fields (``""``
  where a domain lacks a field), ``is_proxy`` when any domain's text is a proxy, and a
  description naming every domain's text;
* records every domain's own provenance under ``provenance["domains"]``.

Splitting is unchanged (leave-last-out per user): every user's sequence lies in one domain,
so its validation and test targets are items of that domain.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from genrec_bench.data.types import ItemAttributes, ItemText, SequenceDataset, Sequences
from genrec_bench.errors import ConfigError, UnknownNameError

#: the separator of domain names in a multi-domain dataset name
DOMAIN_SEP = "+"
#: the separator between a domain name and a raw id in merged ids
ID_SEP = ":"


def split_dataset_name(name: str) -> list[str]:
    """The domain names of ``name`` (one name for a single-domain dataset)."""
    return [part.strip() for part in name.split(DOMAIN_SEP)]


def check_dataset_name(name: str, known: Sequence[str]) -> list[str]:
    """The parts of ``name``; an error naming the bad part and the valid names.

    Every part must be a known name (UnknownNameError) and no part may repeat (ConfigError).
    """
    parts = split_dataset_name(name)
    for part in parts:
        if part not in known:
            error = UnknownNameError("dataset", part or "<empty>", list(known))
            if len(parts) > 1:
                error.args = (f"{error.args[0]} (in the multi-domain name {name!r}: every part "
                              f"joined by {DOMAIN_SEP!r} must be one of these)",)
            raise error
    repeated = sorted({p for p in parts if parts.count(p) > 1})
    if repeated:
        raise ConfigError(f"dataset {name!r} names domain(s) {', '.join(repeated)} more than "
                          "once; give each domain at most once")
    return parts


def merge_domains(parts: Sequence[SequenceDataset], name: str | None = None) -> SequenceDataset:
    """One dataset from several single-domain datasets (see the module docstring).

    Args:
        parts: the domains' datasets, in order; their ``name`` is the domain name.
        name: the merged name; default joins the parts' names with ``+``.
    """
    if len(parts) < 2:
        raise ValueError("merge_domains needs at least two domains")
    names = [p.name for p in parts]
    if len(set(names)) != len(names):
        raise ValueError(f"domain names repeat: {names}")
    name = name or DOMAIN_SEP.join(names)

    seqs: list[np.ndarray] = []
    offsets = [np.zeros(1, dtype=np.int64)]
    user_ids, item_ids = [], [np.asarray(["<pad>"])]
    user_domain, item_domain = [], [np.full(1, -1, dtype=np.int64)]
    item_shift, total = 0, 0
    for d, part in enumerate(parts):
        s = part.sequences
        seqs.append(s.items + item_shift)
        offsets.append(s.offsets[1:] + total)
        total += s.items.shape[0]
        item_shift += part.n_items
        user_ids.append(_prefixed(part.name, part.user_ids))
        item_ids.append(_prefixed(part.name, part.item_ids[1:]))
        user_domain.append(np.full(part.n_users, d, dtype=np.int64))
        item_domain.append(np.full(part.n_items, d, dtype=np.int64))
    sequences = Sequences(items=np.concatenate(seqs), offsets=np.concatenate(offsets))
    text = merge_item_text(parts)
    attributes = merge_item_attributes(parts)
    provenance = {
        "dataset": name,
        "multi_domain": True,
        "domains": {p.name: p.provenance for p in parts},
        "domain_counts": {p.name: p.counts() for p in parts},
        "merge": ("domains concatenated in the order given; raw user and item ids prefixed "
                  f"with '<domain>{ID_SEP}'; no user or item shared across domains; item "
                  "indices shifted by the item counts of the preceding domains"),
        "text_is_proxy": None if text is None else text.is_proxy,
    }
    return SequenceDataset(
        name=name, sequences=sequences, user_ids=np.concatenate(user_ids),
        item_ids=np.concatenate(item_ids), item_text=text, item_attributes=attributes, provenance=provenance,
        domains=tuple(names), item_domain=np.concatenate(item_domain),
        user_domain=np.concatenate(user_domain))


def merge_item_text(parts: Sequence[SequenceDataset]) -> ItemText | None:
    """The union of the parts' text fields, or None unless every part has text."""
    if any(p.item_text is None for p in parts):
        return None
    fields: list[str] = []
    for p in parts:
        fields += [f for f in p.item_text.fields if f not in fields]
    merged: dict[str, list[str]] = {f: [""] for f in fields}
    for p in parts:
        for f in fields:
            column = p.item_text.fields.get(f)
            merged[f].extend(column[1:] if column is not None else [""] * p.n_items)
    description = "; ".join(f"{p.name}: {p.item_text.description}"
                            + (" [PROXY]" if p.item_text.is_proxy else "") for p in parts)
    return ItemText(fields=merged, is_proxy=any(p.item_text.is_proxy for p in parts),
                    description=description)


def merge_item_attributes(parts: Sequence[SequenceDataset]) -> ItemAttributes | None:
    """The parts' attribute codes side by side (each domain's codes shifted past the
    preceding domains' vocabularies: no code is shared across domains), or None unless
    every part has codes."""
    if any(p.item_attributes is None for p in parts):
        return None
    items, lengths, shift = [], [np.zeros(1, dtype=np.int64)], 0
    for p in parts:
        a = p.item_attributes
        items.append(a.codes.items + shift)
        lengths.append(np.diff(a.codes.offsets)[1:])
        shift += a.n_attributes
    offsets = np.concatenate([[0], np.cumsum(np.concatenate(lengths))]).astype(np.int64)
    return ItemAttributes(codes=Sequences(items=np.concatenate(items), offsets=offsets), n_attributes=shift,
                          description="; ".join(f"{p.name}: {p.item_attributes.description}" for p in parts))


def load_multi_domain(name: str, load_one: Callable[[str], SequenceDataset]) -> SequenceDataset:
    """Load every domain of ``name`` with ``load_one`` and merge them."""
    return merge_domains([load_one(part) for part in split_dataset_name(name)], name)


def _prefixed(domain: str, ids: np.ndarray) -> np.ndarray:
    return np.char.add(f"{domain}{ID_SEP}", np.asarray(ids).astype(str))
