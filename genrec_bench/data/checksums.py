"""SHA-256 of files, cached in-process by (path, size, mtime) so repeated loads hash once."""

from __future__ import annotations

import hashlib
from pathlib import Path

_CACHE: dict[tuple[str, int, int], str] = {}


def sha256_file(path: Path | str, *, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of the file at ``path``; cached while its size and mtime are unchanged."""
    path = Path(path).resolve()
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    _CACHE[key] = digest.hexdigest()
    return _CACHE[key]


def clear_cache() -> None:
    """Forget every cached digest (tests)."""
    _CACHE.clear()
