"""Where the suite keeps derived artifacts (text embeddings, tokenizers): ``$GENREC_CACHE``,
else ``results/cache`` under the current directory. Nothing there is needed to read results."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path


def cache_dir() -> Path:
    path = Path(os.environ.get("GENREC_CACHE", "results/cache"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def artifact_key(identity: dict) -> str:
    """16 hex digits naming a cached artifact: the sha256 of ``identity`` as sorted JSON, so
    the same inputs and config always find the same file and any change misses the cache."""
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
