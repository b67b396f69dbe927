"""The semantic-ID artifact: every item's code tuple, unique thanks to a disambiguation level.

Codes are stored per item (``codes[i]`` = the ``L`` codes of item ``i``; row 0 belongs to the
padding item and is unused). Level ``l`` takes values ``0..level_sizes[l]-1``. Token ids of a
seq2seq vocabulary are laid out level by level after ``n_special`` reserved ids::

    token(level l, code c) = n_special + sum(level_sizes[:l]) + c

The artifact is saved as ``.npz`` (codes) + ``.json`` (config, sizes, diagnostics) and loaded
strictly: a missing file, a shape that does not match the config, or duplicate IDs are errors.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from genrec_bench.errors import DataError
from genrec_bench.records.atomic import atomic_write_bytes, atomic_write_json

N_SPECIAL = 2  #: token 0 = padding / decoder start, token 1 = end of sequence (unused by fixed-length IDs)


@dataclass(frozen=True)
class SemanticIds:
    """Attributes:
    codes: int64 ``[n_items + 1, L]``; row ``i`` = item ``i``'s codes (row 0 unused, zeros).
    level_sizes: codebook size of every level (the last is the disambiguation level when
        ``dedup_level`` is true).
    dedup_level: whether the last level only separates items that share the other codes.
    config: how the IDs were made (tokenizer, its config, input embeddings).
    diagnostics: collision rate before disambiguation, per-level usage and entropy, ...
    """

    codes: np.ndarray
    level_sizes: tuple[int, ...]
    dedup_level: bool = True
    config: dict = field(default_factory=dict)
    diagnostics: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        codes = self.codes
        if codes.ndim != 2 or codes.shape[1] != len(self.level_sizes):
            raise ValueError(f"codes must be [n_items + 1, {len(self.level_sizes)}], got {codes.shape}")
        body = codes[1:]
        if (body < 0).any() or (body >= np.asarray(self.level_sizes)).any():
            raise ValueError("a code is outside its level's range")

    @property
    def n_items(self) -> int:
        return int(self.codes.shape[0] - 1)

    @property
    def length(self) -> int:
        return len(self.level_sizes)

    @property
    def level_offsets(self) -> np.ndarray:
        """int64 ``[L]``: first token id of every level."""
        return N_SPECIAL + np.concatenate([[0], np.cumsum(self.level_sizes)[:-1]]).astype(np.int64)

    @property
    def vocab_size(self) -> int:
        return int(N_SPECIAL + sum(self.level_sizes))

    def tokens(self) -> np.ndarray:
        """int64 ``[n_items + 1, L]`` token ids of every item (row 0 = padding tokens 0)."""
        out = self.codes + self.level_offsets
        out[0] = 0
        return out

    def is_unique(self) -> bool:
        return np.unique(self.codes[1:], axis=0).shape[0] == self.n_items

    def save(self, path: Path) -> None:
        """Write ``<path>.npz`` and ``<path>.json`` atomically."""
        import io

        buffer = io.BytesIO()
        np.savez_compressed(buffer, codes=self.codes)
        atomic_write_bytes(Path(f"{path}.npz"), buffer.getvalue())
        atomic_write_json(Path(f"{path}.json"), {
            "level_sizes": list(self.level_sizes), "dedup_level": self.dedup_level,
            "n_items": self.n_items, "config": self.config, "diagnostics": self.diagnostics})

    @classmethod
    def load(cls, path: Path, *, expect_config: dict | None = None) -> SemanticIds:
        """Load strictly; ``expect_config`` must equal the saved config when given."""
        meta_path, codes_path = Path(f"{path}.json"), Path(f"{path}.npz")
        for p in (meta_path, codes_path):
            if not p.exists():
                raise DataError(p, "semantic-ID artifact file is missing")
        try:
            meta = json.loads(meta_path.read_text())
        except json.JSONDecodeError as error:
            raise DataError(meta_path, f"semantic-ID artifact is not valid JSON ({error}); delete it to rebuild",
                            line=error.lineno) from None
        for key in ("level_sizes", "dedup_level", "n_items", "config", "diagnostics"):
            if key not in meta:
                raise DataError(meta_path, "missing key in semantic-ID artifact", key=key)
        # compare as JSON: a config's tuples are read back as lists
        expected = json.loads(json.dumps(expect_config)) if expect_config is not None else None
        if expected is not None and meta["config"] != expected:
            differing = sorted(k for k in set(meta["config"]) | set(expected)
                               if meta["config"].get(k) != expected.get(k))
            raise DataError(meta_path, "semantic-ID artifact was made with another config (differs in: "
                                       f"{', '.join(differing)})", key="config")
        try:
            with np.load(codes_path) as data:
                if "codes" not in data:
                    raise DataError(codes_path, "no 'codes' array", key="codes")
                codes = data["codes"]
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
            raise DataError(codes_path, f"semantic-ID codes cannot be read ({error}); delete it to rebuild") from None
        if codes.shape != (meta["n_items"] + 1, len(meta["level_sizes"])):
            raise DataError(codes_path, f"codes have shape {codes.shape}, expected "
                                        f"({meta['n_items'] + 1}, {len(meta['level_sizes'])})")
        ids = cls(codes=codes.astype(np.int64), level_sizes=tuple(meta["level_sizes"]),
                  dedup_level=meta["dedup_level"], config=meta["config"], diagnostics=meta["diagnostics"])
        if not ids.is_unique():
            raise DataError(codes_path, "semantic IDs are not unique")
        return ids


def add_dedup_level(codes: np.ndarray) -> tuple[np.ndarray, int]:
    """Append TIGER's disambiguation code: the item's index among items sharing its codes.

    Args:
        codes: int64 ``[n, L]`` (items in index order).
    Returns:
        (int64 ``[n, L + 1]``, the size the extra level needs = the largest group).
    """
    _, inverse, counts = np.unique(codes, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(inverse, kind="stable")
    group_start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank_in_group = np.empty(codes.shape[0], dtype=np.int64)
    rank_in_group[order] = np.arange(codes.shape[0]) - np.repeat(group_start, counts)
    return np.concatenate([codes, rank_in_group[:, None]], axis=1), int(counts.max())


def code_diagnostics(codes: np.ndarray, level_sizes: tuple[int, ...]) -> dict:
    """Collision rate (share of items whose full code tuple is shared), and per level the
    number of codes used, the usage entropy (bits) and its maximum ``log2(K)``."""
    _, counts = np.unique(codes, axis=0, return_counts=True)
    levels = []
    for level, size in enumerate(level_sizes):
        usage = np.bincount(codes[:, level], minlength=size).astype(np.float64)
        p = usage[usage > 0] / usage.sum()
        levels.append({"codes_used": int((usage > 0).sum()), "size": int(size),
                       "entropy_bits": float(-(p * np.log2(p)).sum()), "max_entropy_bits": float(np.log2(size))})
    return {"collision_rate": float(counts[counts > 1].sum() / codes.shape[0]),
            "largest_collision_group": int(counts.max()), "levels": levels}
