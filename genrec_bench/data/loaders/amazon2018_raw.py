"""Raw Amazon 2018 (Ni et al. 2019): ``<Category>_5.json.gz`` + ``meta_<Category>.json.gz``.

Both files hold one strict-JSON object per line. Reviews give ``reviewerID``, ``asin``,
``unixReviewTime``; exact duplicate rows (same user, item and time, which the 2018 5-core
files contain) are dropped before the 5-core, as the LC-Rec / UniSRec scripts do. The meta
fields ``title``, ``brand``, ``category`` (a list, written as ``categories``) and
``description`` (a list of paragraphs) become the item text.

Note: LC-Rec / LETTER also drop items without usable metadata before filtering, so the
counts from the raw files differ from their preprocessed ``*.inter.json``.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from genrec_bench.data.kcore import build_sequences
from genrec_bench.data.loaders import amazon2014_raw
from genrec_bench.data.loaders._common import parse_json_line
from genrec_bench.data.loaders.amazon2014_raw import item_text, read_reviews
from genrec_bench.data.types import SequenceDataset

FORMAT = "amazon2018_raw"
REQUIRED = ("reviews",)
OPTIONAL = ("meta",)
MULTI: tuple[str, ...] = ()
OPTIONS = ("k_core",)

#: output text field -> (meta key, separator used to join lists)
TEXT_FIELDS = {"title": ("title", " "), "brand": ("brand", " "),
               "categories": ("category", ", "), "description": ("description", " ")}

_ASIN = re.compile(r'"asin"\s*:\s*"([^"]+)"')


def read_meta(path: Path, wanted: set[str]) -> dict[str, dict[str, Any]]:
    """Meta records (strict JSON per line) of the ``wanted`` ASINs; the first record wins."""
    return amazon2014_raw.read_meta(path, wanted, parse_line=parse_json_line, asin_pattern=_ASIN)


def load(*, name: str, reviews: Path, meta: Path | None = None, k_core: int = 5) -> SequenceDataset:
    """5-core chronological sequences (duplicates dropped) with the meta text."""
    log = read_reviews(Path(reviews))  # same review schema as 2014
    dataset = build_sequences(log, name=name, k_core=k_core, chronological=True,
                              drop_duplicates=True)
    text, stats = None, None
    if meta is not None:
        records = read_meta(Path(meta), set(dataset.item_ids[1:].tolist()))
        text, stats = item_text(Path(meta), dataset.item_ids, year="2018", records=records,
                                fields=TEXT_FIELDS)
    return replace(dataset, item_text=text,
                   provenance={**dataset.provenance, "format": FORMAT, "text": stats})
