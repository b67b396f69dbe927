"""Data: dataset cards, loaders per file format, k-core/chronological sequences, splits.

The public entry points are re-exported here and imported lazily (so that importing
``genrec_bench.data.types`` does not pull in pandas)::

    from genrec_bench.data import load_dataset, dataset_names, resolve_data_root, get_card
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from genrec_bench.data.catalog import dataset_names, get_card, load_dataset, resolve_data_root

__all__ = ["dataset_names", "get_card", "load_dataset", "resolve_data_root"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("genrec_bench.data.catalog"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
