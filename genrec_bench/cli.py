"""Checks shared by the command-line runners: names a user typed, before anything runs.

A typo must fail at once with one line that lists the valid names, never produce an empty
table that replaces a committed one, nor start a long run.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path
from typing import NoReturn

from genrec_bench.data.catalog import check_dataset_name
from genrec_bench.errors import GenRecError, UnknownNameError
from genrec_bench.registry import method_names


def check_methods(names: Iterable[str], also_valid: Iterable[str] = ()) -> None:
    """UnknownNameError (listing the registered methods) for the first name that is neither
    registered nor in ``also_valid``.

    ``also_valid`` (e.g. a table's default methods, the method folders of the records it reads)
    spares the registry lookup, which imports every method module (seconds: transformers),
    when every name is known already."""
    names, spared = list(names), set(also_valid)
    if all(name in spared for name in names):
        return
    known = method_names()
    for name in names:
        if name not in known and name not in spared:
            raise UnknownNameError("method", name, known)


def recorded_methods(results_dir: str | Path, datasets: Iterable[str] | None = None) -> set[str]:
    """The method folders under ``results_dir/runs/<dataset>/`` (every dataset by default)."""
    runs = Path(results_dir) / "runs"
    patterns = [f"{dataset}/*" for dataset in datasets] if datasets is not None else ["*/*"]
    return {p.name for pattern in patterns for p in runs.glob(pattern) if p.is_dir()}


def check_datasets(names: Iterable[str], *, multi_domain: bool = True) -> None:
    """UnknownNameError (listing the datasets with a card) for the first unknown name; with
    ``multi_domain``, ``a+b`` joins known names."""
    for name in names:
        parts = check_dataset_name(name)
        if not multi_domain and len(parts) > 1:
            raise GenRecError(f"{name!r} is a multi-domain name; give single datasets here")


def parse_shard(shard: str) -> tuple[int, int]:
    """``"I/N"`` -> ``(I, N)`` with ``0 <= I < N``; GenRecError for anything else.

    >>> parse_shard("1/4")
    (1, 4)
    """
    index, sep, count = shard.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i, n = -1, 0
    if not sep or not 0 <= i < n:
        raise GenRecError(f"--shard expects I/N with 0 <= I < N (e.g. 0/4), got {shard!r}")
    return i, n


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr and exit code 2 (the
    suite's rule for every user error); ``--help`` still prints the whole usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def parse_overrides(pairs: Iterable[str], option: str = "--set") -> dict[str, str]:
    """``["a=1", "b.c=x"]`` (repeated ``--set KEY=VALUE``) -> ``{"a": "1", "b.c": "x"}``;
    GenRecError for a pair without ``=`` or key.

    >>> parse_overrides(["max_epochs=5", "training.lr = 1e-3"])
    {'max_epochs': '5', 'training.lr': '1e-3'}
    """
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise GenRecError(f"{option} expects KEY=VALUE, got {pair!r}")
        overrides[key.strip()] = value.strip()
    return overrides


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


#: seeds numpy and torch both accept
MAX_SEED = 2**32 - 1


def seed_int(text: str) -> int:
    """argparse type: a seed in ``0 .. 2**32 - 1``."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {text!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"a seed is in 0..{MAX_SEED}, got {value}")
    return value
