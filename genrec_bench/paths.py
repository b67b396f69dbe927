"""Where the suite keeps derived artifacts (text embeddings, tokenizers): ``$GENREC_CACHE``,
else ``results/cache`` under the current directory. Nothing there is needed to read results."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    path = Path(os.environ.get("GENREC_CACHE", "results/cache"))
    path.mkdir(parents=True, exist_ok=True)
    return path
