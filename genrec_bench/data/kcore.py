"""From an interaction log to chronological per-user sequences: k-core filter, order, index.

Rules (all vectorized; nothing loops over users or rows in Python):

* **k-core**: users and items with fewer than ``k_core`` interactions are removed, and the
  removal is repeated until no user and no item is below ``k_core`` (removing an item can
  push a user below the threshold and vice versa). Interactions are counted as rows, so a
  repeated (user, item) pair counts twice unless ``drop_duplicates`` removed it first.
* **user order**: users keep the order of their first row in the log.
* **sequence order**: each user's rows are sorted by timestamp with a *stable* sort, so rows
  with equal timestamps keep their order in the file. With ``chronological=False`` the file
  order is kept as it is.
* **item index**: items are numbered ``1..n_items`` in order of first appearance in the
  ordered sequences (user by user, each user's sequence from first to last item); ``0``
  stays the padding index.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genrec_bench.data.types import InteractionLog, SequenceDataset, Sequences
from genrec_bench.errors import ConfigError, DataError

ITEM_INDEX_RULE = "1..n in order of first appearance in the ordered sequences (users in log order)"
USER_ORDER_RULE = "order of each user's first row in the log"


def no_timestamp_problem() -> str:
    """The explanation given when a chronological split is asked of a log without time."""
    return ("the file has no timestamps and its rows are not in time order, so a chronological "
            "(leave-last-out) split cannot be built from it; use a source with timestamps")


def _counts(user: np.ndarray, item: np.ndarray) -> dict[str, int]:
    return {"users": int(np.unique(user).size), "items": int(np.unique(item).size),
            "interactions": int(user.shape[0])}


def k_core_mask(user: np.ndarray, item: np.ndarray, k: int) -> tuple[np.ndarray, int]:
    """Rows kept by the iterative k-core filter.

    Args:
        user: int64 ``[n]`` user codes ``0..n_users-1``.
        item: int64 ``[n]`` item codes ``0..n_items-1``.
        k: minimum number of interactions of every kept user and item (>= 1).

    Returns:
        bool ``[n]`` mask of the kept rows, and the number of rounds that removed rows
        (0 when the log already is a k-core).
    """
    keep = np.ones(user.shape[0], dtype=bool)
    n_users = int(user.max(initial=-1)) + 1
    n_items = int(item.max(initial=-1)) + 1
    rounds = 0
    while True:
        user_deg = np.bincount(user[keep], minlength=n_users)
        item_deg = np.bincount(item[keep], minlength=n_items)
        new_keep = keep & (user_deg[user] >= k) & (item_deg[item] >= k)
        if int(new_keep.sum()) == int(keep.sum()):
            return keep, rounds
        keep = new_keep
        rounds += 1


def _check_log(log: InteractionLog) -> None:
    n = len(log)
    if log.item.shape[0] != n or (log.timestamp is not None and log.timestamp.shape[0] != n):
        raise DataError(log.source, "user, item and timestamp columns have different lengths")
    if n == 0:
        raise DataError(log.source, "the log has no interactions")


def build_sequences(log: InteractionLog, *, name: str, k_core: int = 5,
                    chronological: bool = True, drop_duplicates: bool = False) -> SequenceDataset:
    """Filter ``log`` to its k-core and turn it into one ordered sequence per user.

    Args:
        log: ``n`` interactions (raw user and item ids, optional int64 timestamps).
        name: the dataset's registered name.
        k_core: minimum interactions per user and per item (1 = no filter).
        chronological: sort each user's rows by timestamp (stable). Requires timestamps.
        drop_duplicates: drop rows repeating an earlier (user, item, timestamp) row first.

    Returns:
        A ``SequenceDataset`` with ``n_users`` sequences over items ``1..n_items``;
        ``user_ids`` ``[n_users]`` and ``item_ids`` ``[n_items + 1]`` hold the raw ids as str.
        ``provenance`` records the k-core, its rounds and the counts before and after.

    Raises:
        DataError: no timestamps but ``chronological``; an empty log; nothing left after
            the k-core filter.
    """
    if isinstance(k_core, bool) or not isinstance(k_core, int | np.integer) or k_core < 1:
        raise ConfigError(f"k_core must be an integer >= 1, got {k_core!r}")
    if chronological and log.timestamp is None:
        raise DataError(log.source, no_timestamp_problem())
    _check_log(log)
    user_codes, user_uniques = pd.factorize(np.asarray(log.user), sort=False)
    item_codes, item_uniques = pd.factorize(np.asarray(log.item), sort=False)
    user = user_codes.astype(np.int64, copy=False)
    item = item_codes.astype(np.int64, copy=False)
    if (user < 0).any() or (item < 0).any():
        raise DataError(log.source, "missing (null) user or item id")
    time = None if log.timestamp is None else np.asarray(log.timestamp, dtype=np.int64)
    before = _counts(user, item)

    rows = np.arange(user.shape[0], dtype=np.int64)
    n_duplicates = 0
    if drop_duplicates:
        frame = {"u": user, "i": item} if time is None else {"u": user, "i": item, "t": time}
        first = ~pd.DataFrame(frame).duplicated(keep="first").to_numpy()
        n_duplicates = int((~first).sum())
        rows = rows[first]

    keep, rounds = k_core_mask(user[rows], item[rows], k_core)
    rows = rows[keep]
    if rows.size == 0:
        raise DataError(log.source, f"no interaction is left after the {k_core}-core filter "
                                    f"({before['users']} users, {before['items']} items before)")

    # stable sorts: by time first, then by user, so equal times keep file order
    if chronological and time is not None:
        rows = rows[np.argsort(time[rows], kind="stable")]
    rows = rows[np.argsort(user[rows], kind="stable")]
    u_sorted = user[rows]
    i_sorted = item[rows]

    kept_users, user_index = np.unique(u_sorted, return_inverse=True)  # ascending = log order
    lengths = np.bincount(user_index, minlength=kept_users.size).astype(np.int64)
    offsets = np.zeros(kept_users.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])

    kept_items, first_pos = np.unique(i_sorted, return_index=True)
    by_first = np.argsort(first_pos, kind="stable")          # kept_items[by_first] = new order
    new_index = np.zeros(item_uniques.shape[0], dtype=np.int64)
    new_index[kept_items[by_first]] = np.arange(1, kept_items.size + 1, dtype=np.int64)
    items = new_index[i_sorted]

    item_ids = np.empty(kept_items.size + 1, dtype=object)
    item_ids[0] = "<pad>"
    item_ids[1:] = np.asarray(item_uniques)[kept_items[by_first]]
    user_ids = np.asarray(user_uniques)[kept_users]
    after = {"users": int(kept_users.size), "items": int(kept_items.size),
             "interactions": int(rows.size)}
    provenance = {
        "source": log.source,
        "k_core": int(k_core),
        "k_core_rounds": rounds,
        "duplicates_dropped": n_duplicates if drop_duplicates else None,
        "counts_before": before,
        "counts_after": after,
        "order": ("per user by timestamp, stable (ties keep file order)" if chronological
                  else "per user in file order"),
        "user_order": USER_ORDER_RULE,
        "item_index": ITEM_INDEX_RULE,
    }
    return SequenceDataset(
        name=name,
        sequences=Sequences(items=items, offsets=offsets),
        user_ids=user_ids.astype(str),
        item_ids=item_ids.astype(str),
        provenance=provenance,
    )
