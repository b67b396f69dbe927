"""The suite's own exceptions: every one names what was wrong and where."""

from __future__ import annotations

from pathlib import Path


class GenRecError(Exception):
    """Base class of every error the suite raises on purpose."""


class DataError(GenRecError):
    """A data file is missing, malformed or inconsistent.

    The message always names the file and, where it applies, the line (1-based) or the
    JSON key, and says what was expected.
    """

    def __init__(self, path: str | Path, problem: str, *, line: int | None = None,
                 key: str | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.key = key
        self.problem = problem
        where = self.path
        if line is not None:
            where += f", line {line}"
        if key is not None:
            where += f", key {key!r}"
        super().__init__(f"{where}: {problem}")


class ConfigError(GenRecError):
    """A configuration value has the wrong type, range or name."""


class UnknownNameError(GenRecError, KeyError):
    """A method, dataset or profile name that is not registered; lists the valid ones."""

    def __init__(self, kind: str, name: str, valid: list[str]) -> None:
        self.kind, self.name, self.valid = kind, name, sorted(valid)
        super().__init__(f"unknown {kind} {name!r}; valid {kind}s: {', '.join(self.valid)}")

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]
