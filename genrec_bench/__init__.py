"""genrec_bench: the core of the generative-recommendation benchmark suite.

Dependencies point one way: ``runners`` -> ``methods``/``baselines`` -> ``genrec_bench``.
The core holds data loading and splitting, the one ``Recommender`` interface and its
registry, the evaluator, the training utilities and the run records.

``genrec_bench.run(method, dataset, profile=..., seed=...)`` trains, evaluates and records one
run and returns its :class:`~genrec_bench.records.RunRecord` (``genrec_bench/experiment/``).
It is imported on first use, so ``import genrec_bench`` stays light (no torch).
"""

__version__ = "0.1.0"

#: public names imported on first access: name -> the module that defines it
_LAZY = {"run": "genrec_bench.experiment"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


def _hide_dataset_cards_folder() -> None:
    """Keep the top-level ``datasets/`` folder (dataset cards, not code) from posing as
    Hugging Face ``datasets``.

    Run from the project root, Python would import that bare folder as a namespace package,
    and transformers would then believe Hugging Face ``datasets`` is installed
    (``is_datasets_available()`` only asks ``find_spec``) and fail later. When the only
    ``datasets`` on the path is that folder, mark the name as absent (``sys.modules`` entry
    ``None``: ``find_spec`` returns None and ``import datasets`` raises ImportError, exactly
    as when the package is not installed). An installed Hugging Face ``datasets`` is a
    regular package, found first, and is left alone.
    """
    import importlib.util
    import sys
    from pathlib import Path

    cards = (Path(__file__).resolve().parents[1] / "datasets").resolve()
    try:
        spec = importlib.util.find_spec("datasets")
    except (ImportError, ValueError):
        return
    if spec is None or spec.origin not in (None, "namespace"):
        return
    locations = [Path(p).resolve() for p in (spec.submodule_search_locations or [])]
    if locations and all(p == cards for p in locations):
        sys.modules["datasets"] = None  # type: ignore[assignment]


_hide_dataset_cards_folder()
