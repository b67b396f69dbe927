"""Leave-last-out splitting: the protocol of SASRec, BERT4Rec, TIGER, LETTER and ETEGRec.

For every user with chronological sequence ``s`` (length >= 3):
    train  = s[:-2]
    valid  = history s[:-2], target s[-2]
    test   = history s[:-1], target s[-1]
Validation and test histories therefore contain everything before the target, so the test
history includes the validation item (as in every reference implementation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genrec_bench.data.types import SequenceDataset, Sequences
from genrec_bench.errors import DataError


@dataclass(frozen=True)
class EvalSplit:
    """One target per user.

    Attributes:
        users: int64 ``[n]`` user indices into the dataset.
        histories: the items seen before each target (``n`` sequences).
        targets: int64 ``[n]`` the held-out item of every user.
    """

    users: np.ndarray
    histories: Sequences
    targets: np.ndarray

    def __len__(self) -> int:
        return int(self.users.shape[0])

    def select(self, rows: np.ndarray) -> EvalSplit:
        rows = np.asarray(rows, dtype=np.int64)
        return EvalSplit(self.users[rows], self.histories.select(rows), self.targets[rows])


@dataclass(frozen=True)
class SequenceSplits:
    """The train/valid/test views of a dataset under one protocol.

    Attributes:
        dataset: the dataset the splits were made from (ids, text, provenance).
        train: training sequences, one per user (user ``u`` is row ``u``).
        valid: validation targets.
        test: test targets.
        protocol: the protocol's name and parameters, for run records.
    """

    dataset: SequenceDataset
    train: Sequences
    valid: EvalSplit
    test: EvalSplit
    protocol: dict

    @property
    def n_items(self) -> int:
        return self.dataset.n_items

    @property
    def n_users(self) -> int:
        return self.dataset.n_users

    def train_item_counts(self) -> np.ndarray:
        """int64 ``[n_items + 1]``: how often each item occurs in the training sequences."""
        return np.bincount(self.train.items, minlength=self.n_items + 1)


def leave_last_out(dataset: SequenceDataset) -> SequenceSplits:
    """Split every user's sequence: last item = test, second-to-last = validation."""
    seqs = dataset.sequences
    lengths = seqs.lengths
    short = np.flatnonzero(lengths < 3)
    if short.size:
        u = int(short[0])
        raise DataError(
            dataset.provenance.get("source", dataset.name),
            f"user {dataset.user_ids[u]!r} has {int(lengths[u])} items; leave-last-out needs "
            f"at least 3 (train, validation, test) and {short.size} users are this short",
        )
    users = np.arange(len(seqs), dtype=np.int64)
    train = seqs.truncate_tail(2)
    valid_hist = train
    test_hist = seqs.truncate_tail(1)
    return SequenceSplits(
        dataset=dataset,
        train=train,
        valid=EvalSplit(users, valid_hist, seqs.items[seqs.offsets[1:] - 2]),
        test=EvalSplit(users, test_hist, seqs.last()),
        protocol={"name": "leave-last-out", "valid": "second-to-last item",
                  "test": "last item", "test_history_includes_valid_item": True},
    )
