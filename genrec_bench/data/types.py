"""Typed containers handed from the loaders to the splitters and the methods.

Item numbering is the one contract every part shares: items are ``1..n_items`` and ``0`` is
the padding index, so an item-id tensor can be used directly as an embedding index.
Sequences are stored flat (CSR layout: ``items`` plus ``offsets``) so that nothing in a
hot path loops over users in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

PAD = 0  #: the padding item index; real items are 1..n_items


@dataclass(frozen=True)
class InteractionLog:
    """An unprocessed log as a raw file gives it: one row per interaction.

    Attributes:
        user: raw user ids, shape ``[n]`` (str).
        item: raw item ids, shape ``[n]`` (str).
        timestamp: int64 times, shape ``[n]``, or ``None`` when the source has no time
            (then no chronological split can be built from it).
        source: the file the rows came from (for error messages and provenance).
    """

    user: np.ndarray
    item: np.ndarray
    timestamp: np.ndarray | None
    source: str

    def __len__(self) -> int:
        return int(self.user.shape[0])


@dataclass(frozen=True)
class ItemText:
    """Text fields per item, aligned with item index (entry 0 is the padding item).

    Attributes:
        fields: ``{field name: list of n_items + 1 strings}``; missing values are ``""``.
        is_proxy: True when the text is not the real item metadata (e.g. the IDGenRec
            proxy text of the Amazon 2014 P5 data); records and tables must say so.
        description: where the text came from, in words.
    """

    fields: dict[str, list[str]]
    is_proxy: bool
    description: str


@dataclass(frozen=True)
class ItemAttributes:
    """Categorical attribute codes per item (e.g. S3-Rec's anonymous brand and category ids).

    Attributes:
        codes: one code list per item index in CSR layout (``n_items + 1`` rows; row 0, the
            padding item, is empty); codes are ``1..n_attributes``.
        n_attributes: the size of the code vocabulary.
        description: where the codes came from, in words.
    """

    codes: Sequences
    n_attributes: int
    description: str

    def multi_hot(self) -> np.ndarray:
        """float32 ``[n_items + 1, n_attributes]``: 1 where the item has the code."""
        lengths = np.diff(self.codes.offsets)
        out = np.zeros((lengths.shape[0], self.n_attributes), dtype=np.float32)
        out[np.repeat(np.arange(lengths.shape[0]), lengths), self.codes.items - 1] = 1.0
        return out


@dataclass(frozen=True)
class Sequences:
    """Variable-length item sequences in CSR layout.

    Attributes:
        items: int64 item indices, shape ``[total]``, each in ``1..n_items``.
        offsets: int64, shape ``[n + 1]``; sequence ``u`` is ``items[offsets[u]:offsets[u+1]]``.
    """

    items: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return int(self.offsets.shape[0] - 1)

    @property
    def lengths(self) -> np.ndarray:
        """int64 ``[n]``: the length of every sequence."""
        return np.diff(self.offsets)

    def __getitem__(self, u: int) -> np.ndarray:
        return self.items[self.offsets[u]:self.offsets[u + 1]]

    @classmethod
    def from_lists(cls, seqs: list[list[int]] | list[np.ndarray]) -> Sequences:
        lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
        offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        items = (np.concatenate([np.asarray(s, dtype=np.int64) for s in seqs])
                 if len(seqs) else np.zeros(0, dtype=np.int64))
        return cls(items=items, offsets=offsets)

    def select(self, rows: np.ndarray) -> Sequences:
        """The sequences ``rows`` (int array), in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        lengths = self.lengths[rows]
        offsets = np.zeros(rows.shape[0] + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        # gather every element: start of its row + position inside the row
        starts = np.repeat(self.offsets[rows], lengths)
        within = np.arange(offsets[-1], dtype=np.int64) - np.repeat(offsets[:-1], lengths)
        return Sequences(items=self.items[starts + within], offsets=offsets)

    def truncate_tail(self, drop: int) -> Sequences:
        """Every sequence without its last ``drop`` items (each must keep at least one)."""
        lengths = self.lengths - drop
        if lengths.size and lengths.min() < 1:
            raise ValueError(f"cannot drop {drop} items from a sequence of length {lengths.min() + drop}")
        keep = np.ones(self.items.shape[0], dtype=bool)
        ends = self.offsets[1:]
        for j in range(1, drop + 1):
            keep[ends - j] = False
        offsets = np.zeros_like(self.offsets)
        np.cumsum(lengths, out=offsets[1:])
        return Sequences(items=self.items[keep], offsets=offsets)

    def last(self) -> np.ndarray:
        """int64 ``[n]``: the last item of every sequence."""
        return self.items[self.offsets[1:] - 1]

    def padded(self, max_len: int | None = None, *, align: str = "right") -> np.ndarray:
        """A dense int64 ``[n, L]`` matrix of the last ``max_len`` items, padded with 0.

        ``align="right"`` puts each sequence's last item in the last column (SASRec's
        layout); ``align="left"`` starts each row at column 0.
        """
        lengths = self.lengths
        width = int(lengths.max(initial=0)) if max_len is None else int(max_len)
        kept = np.minimum(lengths, width)
        out = np.zeros((len(self), width), dtype=np.int64)
        if width == 0 or self.items.size == 0:
            return out
        rows = np.repeat(np.arange(len(self)), kept)
        # position inside the kept tail of each row: 0..kept-1
        within = np.arange(int(kept.sum()), dtype=np.int64) - np.repeat(np.cumsum(kept) - kept, kept)
        src = np.repeat(self.offsets[1:] - kept, kept) + within
        cols = within + (np.repeat(width - kept, kept) if align == "right" else 0)
        out[rows, cols] = self.items[src]
        return out


@dataclass(frozen=True)
class SequenceDataset:
    """A dataset after filtering and ordering: one chronological item sequence per user.

    Attributes:
        name: the dataset's registered name, e.g. ``amazon2014-beauty``.
        sequences: one sequence per user, chronological, item indices ``1..n_items``.
        user_ids: raw user id of every user, shape ``[n_users]`` (str).
        item_ids: raw item id of every item index, shape ``[n_items + 1]``; entry 0 is
            ``"<pad>"``.
        item_text: text fields per item, or ``None`` when the data has none here.
        item_attributes: categorical codes per item (brand/category ids without names), or
            ``None``.
        provenance: which format and files were read, and every processing step.
        domains: for a multi-domain dataset (``a+b``, see ``genrec_bench.data.multidomain``)
            the domain names in order; empty for a single-domain dataset.
        item_domain: int64 ``[n_items + 1]`` index into ``domains`` of every item (entry 0,
            the padding item, is ``-1``), or ``None`` for a single-domain dataset.
        user_domain: int64 ``[n_users]`` index into ``domains`` of every user (each user's
            sequence lies in one domain), or ``None`` for a single-domain dataset.
    """

    name: str
    sequences: Sequences
    user_ids: np.ndarray
    item_ids: np.ndarray
    item_text: ItemText | None = None
    item_attributes: ItemAttributes | None = None
    provenance: dict = field(default_factory=dict)
    domains: tuple[str, ...] = ()
    item_domain: np.ndarray | None = None
    user_domain: np.ndarray | None = None

    @property
    def n_users(self) -> int:
        return len(self.sequences)

    @property
    def n_items(self) -> int:
        return int(self.item_ids.shape[0] - 1)

    @property
    def n_interactions(self) -> int:
        return int(self.sequences.items.shape[0])

    def counts(self) -> dict[str, int]:
        return {"users": self.n_users, "items": self.n_items, "interactions": self.n_interactions}

    @property
    def is_multi_domain(self) -> bool:
        """True when the dataset merges several domains (``domains`` has more than one)."""
        return len(self.domains) > 1
