"""Shared fixtures: small synthetic datasets whose next item is learnable."""

from __future__ import annotations

import numpy as np
import pytest

from genrec_bench.data.split import SequenceSplits, leave_last_out
from genrec_bench.data.types import SequenceDataset, Sequences


def cyclic_dataset(n_users: int = 300, n_items: int = 30, seed: int = 0) -> SequenceDataset:
    """Every user walks the items in a cycle (i -> i+1 mod n) from a random start, so the
    next item is a deterministic function of the last one: a model that learns anything
    sequential gets near-perfect validation and test scores."""
    rng = np.random.default_rng(seed)
    seqs = []
    for _ in range(n_users):
        start, length = rng.integers(0, n_items), rng.integers(5, 12)
        seqs.append([(start + t) % n_items + 1 for t in range(length)])
    return SequenceDataset(
        name="cyclic", sequences=Sequences.from_lists(seqs),
        user_ids=np.array([f"u{u}" for u in range(n_users)]),
        item_ids=np.array(["<pad>"] + [f"i{i}" for i in range(1, n_items + 1)]),
        provenance={"source": "synthetic cyclic walks"})


def cyclic_splits_with_titles(n_users: int = 120, n_items: int = 24) -> SequenceSplits:
    """Cyclic walks whose items carry short synthetic titles (for text-based tokenizers)."""
    import dataclasses

    from genrec_bench.data.types import ItemText

    words = ["red", "blue", "green", "small", "large", "soft", "hard", "bright"]
    titles = [""] + [f"{words[i % 8]} {words[(i // 8) % 8]} item {i}" for i in range(1, n_items + 1)]
    text = ItemText(fields={"title": titles}, is_proxy=False, description="synthetic titles")
    return leave_last_out(dataclasses.replace(cyclic_dataset(n_users=n_users, n_items=n_items), item_text=text))


@pytest.fixture(scope="session")
def cyclic_splits() -> SequenceSplits:
    return leave_last_out(cyclic_dataset())


@pytest.fixture(scope="session")
def real_data_root():
    """The folder of real datasets (``$GENREC_DATA`` or ``../shared/data``); skip if absent."""
    import os
    from pathlib import Path

    root = Path(os.environ.get("GENREC_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))
    if not (root / "amazon2014-beauty").is_dir():
        pytest.skip(f"real data not found under {root}")
    return root.resolve()
