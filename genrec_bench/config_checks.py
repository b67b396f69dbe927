"""Validation helpers for config dataclasses: called from ``__post_init__``, they raise
:class:`~genrec_bench.errors.ConfigError` naming the class, the field and what was expected."""

from __future__ import annotations

from typing import Any

from genrec_bench.errors import ConfigError


def positive_ints(cfg: Any, *names: str) -> None:
    for name in names:
        value = getattr(cfg, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{type(cfg).__name__}.{name} must be a positive int, got {value!r}")


def in_range(cfg: Any, name: str, low: float, high: float, *, high_inclusive: bool = False) -> None:
    value = getattr(cfg, name)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value and (
        value <= high if high_inclusive else value < high)
    if not ok:
        bracket = "]" if high_inclusive else ")"
        raise ConfigError(f"{type(cfg).__name__}.{name} must be in [{low}, {high}{bracket}, got {value!r}")


def divisible(cfg: Any, name: str, by: str) -> None:
    if getattr(cfg, name) % getattr(cfg, by):
        raise ConfigError(f"{type(cfg).__name__}: {name}={getattr(cfg, name)} is not divisible by "
                          f"{by}={getattr(cfg, by)}")


def one_of(cfg: Any, name: str, choices: tuple) -> None:
    if getattr(cfg, name) not in choices:
        raise ConfigError(f"{type(cfg).__name__}.{name} must be one of {choices}, got {getattr(cfg, name)!r}")
