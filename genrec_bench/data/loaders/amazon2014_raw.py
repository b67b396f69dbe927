"""Raw Amazon 2014 (McAuley et al. 2015): ``reviews_<Cat>_5.json.gz`` + ``meta_<Cat>.json.gz``.

* reviews: one strict-JSON object per line; ``reviewerID``, ``asin``, ``unixReviewTime``
  are used (every review is an interaction).
* meta: one **Python dict literal** per line (not JSON: single quotes), parsed with
  ``ast.literal_eval``; ``title``, ``brand``, ``categories`` (a list of lists) and ``price``
  become the item text. Only lines of items that survive the 5-core are parsed.

Processing: 5-core on users and items (repeated until stable), chronological by
``unixReviewTime`` (ties keep file order); item indices by first appearance (see ``kcore``).
"""

from __future__ import annotations

import ast
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from genrec_bench.data.kcore import build_sequences
from genrec_bench.data.loaders._common import (
    as_int,
    iter_lines,
    parse_json_line,
    require_fields,
    text_columns,
)
from genrec_bench.data.types import InteractionLog, ItemText, SequenceDataset
from genrec_bench.errors import DataError

FORMAT = "amazon2014_raw"
REQUIRED = ("reviews",)
OPTIONAL = ("meta",)
MULTI: tuple[str, ...] = ()
OPTIONS = ("k_core",)

REVIEW_FIELDS = ("reviewerID", "asin", "unixReviewTime")
#: output text field -> (meta key, separator used to join lists)
TEXT_FIELDS = {"title": ("title", " "), "brand": ("brand", " "),
               "categories": ("categories", ", "), "price": ("price", " ")}

_ASIN = re.compile(r"""['"]asin['"]\s*:\s*['"]([^'"]+)['"]""")


def read_reviews(path: Path) -> InteractionLog:
    """Every review as an interaction: str user/item ids, int64 ``unixReviewTime`` ``[n]``."""
    path = Path(path)
    users: list[str] = []
    items: list[str] = []
    times: list[int] = []
    for number, line in iter_lines(path):
        record = parse_json_line(path, number, line)
        require_fields(path, number, record, REVIEW_FIELDS)
        users.append(str(record["reviewerID"]))
        items.append(str(record["asin"]))
        times.append(as_int(path, record["unixReviewTime"], "unixReviewTime", line=number,
                            key="unixReviewTime"))
    if not users:
        raise DataError(path, "the file has no reviews")
    return InteractionLog(user=np.asarray(users), item=np.asarray(items),
                          timestamp=np.asarray(times, dtype=np.int64), source=str(path))


def parse_meta_line(path: Path, number: int, line: str) -> dict[str, Any]:
    """One 2014 meta line (a Python dict literal)."""
    try:
        record = ast.literal_eval(line)
    except (ValueError, SyntaxError, MemoryError, RecursionError) as error:
        raise DataError(path, f"expected a Python dict literal: {error}", line=number) from error
    if not isinstance(record, dict):
        raise DataError(path, f"expected a dict, got {type(record).__name__}", line=number)
    return record


def read_meta(path: Path, wanted: set[str], *, parse_line=parse_meta_line,
              asin_pattern: re.Pattern = _ASIN) -> dict[str, dict[str, Any]]:
    """Meta records of the ``wanted`` ASINs, one record per line parsed by ``parse_line``
    (2014: a Python dict literal; 2018 passes a strict-JSON parser). Lines whose ASIN is
    visibly unwanted or already read are skipped unparsed; the first record of an ASIN wins."""
    path = Path(path)
    records: dict[str, dict[str, Any]] = {}
    for number, line in iter_lines(path):
        match = asin_pattern.search(line)
        if match is not None and (match.group(1) not in wanted or match.group(1) in records):
            continue
        record = parse_line(path, number, line)
        require_fields(path, number, record, ("asin",))
        asin = str(record["asin"])
        if asin in wanted and asin not in records:
            records[asin] = record
    return records


def item_text(meta: Path, item_ids: np.ndarray, *, year: str,
              records: dict[str, dict[str, Any]],
              fields: dict[str, tuple[str, str]]) -> tuple[ItemText, dict[str, int]]:
    """``ItemText`` from metadata records aligned with ``item_ids`` ``[n_items + 1]``."""
    columns, found = text_columns(item_ids, records, fields)
    n_items = item_ids.shape[0] - 1
    text = ItemText(fields=columns, is_proxy=False,
                    description=f"real Amazon {year} metadata from {Path(meta).name} "
                                f"({', '.join(fields)}); {found} of {n_items} items have a record")
    return text, {"items_with_text": found, "items": n_items}


def load(*, name: str, reviews: Path, meta: Path | None = None, k_core: int = 5) -> SequenceDataset:
    """5-core chronological sequences with the meta text (when ``meta`` is given)."""
    log = read_reviews(Path(reviews))
    dataset = build_sequences(log, name=name, k_core=k_core, chronological=True)
    text, stats = None, None
    if meta is not None:
        records = read_meta(Path(meta), set(dataset.item_ids[1:].tolist()))
        text, stats = item_text(Path(meta), dataset.item_ids, year="2014", records=records,
                                fields=TEXT_FIELDS)
    return replace(dataset, item_text=text,
                   provenance={**dataset.provenance, "format": FORMAT, "text": stats})
