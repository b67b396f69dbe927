"""Raw Amazon 2014 / 2018 loaders on small gzip fixtures written by the tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genrec_bench.data import load_dataset
from genrec_bench.data.loaders import amazon2014_raw, amazon2018_raw
from genrec_bench.data.split import leave_last_out
from genrec_bench.errors import DataError

CORE_USERS = [f"U{u}" for u in range(6)]
CORE_ITEMS = [f"I{i}" for i in range(6)]


def cascade_rows() -> list[tuple[str, str, int]]:
    """6 users x 6 items (a 5-core) plus a tail the 5-core removes in three rounds.

    User LATE reviews RARE (1 review), EDGE and 3 core items; EDGE is also reviewed by 4
    core users. Round 1 drops RARE; LATE then has 4 reviews (round 2 drops LATE); EDGE
    then has 4 (round 3 drops EDGE).
    """
    rows = []
    for u, user in enumerate(CORE_USERS):
        for i, item in enumerate(CORE_ITEMS):
            # user U0 reviews I1..I3 at the same time: file order must be kept
            t = 100 if (u == 0 and 1 <= i <= 3) else 1000 * (u + 1) - 10 * i
            rows.append((user, item, t))
    rows += [("LATE", "RARE", 5), ("LATE", "EDGE", 6)]
    rows += [("LATE", item, 7 + k) for k, item in enumerate(CORE_ITEMS[:3])]
    rows += [(user, "EDGE", 1) for user in CORE_USERS[:4]]
    return rows


def meta_2014_lines() -> list[str]:
    lines = []
    for i, item in enumerate(CORE_ITEMS[:-1]):  # the last core item has no meta record
        record = {"asin": item, "title": f"Item {i}'s title", "brand": "Acme",
                  "categories": [["Beauty", "Skin Care"], ["Beauty", "Face"]],
                  "price": 12.5 + i, "description": f"about item {i}",
                  "related": {"also_bought": ["X"]}}
        lines.append(repr(record))  # a Python literal: single quotes, not JSON
    lines.append(repr({"asin": "NOT_IN_DATA", "title": "unused"}))
    lines.append("{'asin': 'RARE', 'title': this line is not even a literal}")  # skipped unparsed
    return lines


def expected_core_orders() -> dict[str, list[str]]:
    orders = {}
    for u, user in enumerate(CORE_USERS):
        if u == 0:
            # I1, I2, I3 at t=100 in file order; then I5 (-50), I4 (-40), I0 (1000)
            orders[user] = ["I1", "I2", "I3", "I5", "I4", "I0"]
        else:
            orders[user] = [f"I{i}" for i in range(5, -1, -1)]  # later items earlier
    return orders


def sequences_by_user(dataset) -> dict[str, list[str]]:
    return {str(dataset.user_ids[u]): [str(dataset.item_ids[i]) for i in dataset.sequences[u]]
            for u in range(dataset.n_users)}


def test_2014_raw_kcore_order_and_text(tmp_path: Path, write_reviews, write_gz) -> None:
    reviews = write_reviews(tmp_path / "reviews_Beauty_5.json.gz", cascade_rows())
    meta = write_gz(tmp_path / "meta_Beauty.json.gz", meta_2014_lines())
    dataset = amazon2014_raw.load(name="t", reviews=reviews, meta=meta)
    assert dataset.provenance["k_core"] == 5
    assert dataset.provenance["k_core_rounds"] == 3
    assert dataset.counts() == {"users": 6, "items": 6, "interactions": 36}
    assert sequences_by_user(dataset) == expected_core_orders()
    # item index = first appearance in the ordered sequences (U0 first)
    assert dataset.item_ids.tolist() == ["<pad>", "I1", "I2", "I3", "I5", "I4", "I0"]

    text = dataset.item_text
    assert text is not None and not text.is_proxy
    assert list(text.fields) == ["title", "brand", "categories", "price"]
    index = dataset.item_ids.tolist().index("I1")
    assert text.fields["title"][index] == "Item 1's title"
    assert text.fields["brand"][index] == "Acme"
    assert text.fields["categories"][index] == "Beauty, Skin Care, Face"
    assert text.fields["price"][index] == "13.5"
    assert text.fields["title"][dataset.item_ids.tolist().index("I5")] == ""  # no record
    assert dataset.provenance["text"] == {"items_with_text": 5, "items": 6}
    assert len(leave_last_out(dataset).test) == 6


def test_2014_raw_through_the_catalog(tmp_path: Path, write_reviews, write_gz) -> None:
    folder = tmp_path / "amazon2014-beauty"
    write_reviews(folder / "reviews_Beauty_5.json.gz", cascade_rows())
    write_gz(folder / "meta_Beauty.json.gz", meta_2014_lines())
    with pytest.warns(UserWarning, match="differ from the card's expected"):
        dataset = load_dataset("amazon2014-beauty", tmp_path)
    prov = dataset.provenance
    assert prov["variant"] == "raw" and prov["format"] == "amazon2014_raw"
    assert prov["k_core_rounds"] == 3 and prov["counts_match_expected"] is False
    assert [Path(f["path"]).name for f in prov["files"]] == ["reviews_Beauty_5.json.gz",
                                                             "meta_Beauty.json.gz"]
    assert all(len(f["sha256"]) == 64 and f["sha256_matches_card"] is None for f in prov["files"])
    assert sequences_by_user(dataset) == expected_core_orders()
    json.dumps(prov)  # run records store it as JSON


def test_2018_raw_dedup_and_strict_json_meta(tmp_path: Path, write_reviews, write_gz) -> None:
    rows = cascade_rows()
    rows += [("U1", "I0", 1000 * 2 - 0)]  # an exact duplicate of U1's I0 review
    folder = tmp_path / "amazon2018-scientific"
    write_reviews(folder / "Industrial_and_Scientific_5.json.gz", rows)
    meta = [json.dumps({"asin": item, "title": f"T{i}", "brand": "B",
                        "category": ["Industrial & Scientific", "Lab"],
                        "description": ["First paragraph.", "Second."]})
            for i, item in enumerate(CORE_ITEMS)]
    meta.append(json.dumps({"asin": "I0", "title": "a later duplicate record"}))
    write_gz(folder / "meta_Industrial_and_Scientific.json.gz", meta)
    dataset = load_dataset("amazon2018-scientific", tmp_path)  # no expected counts for raw 2018
    prov = dataset.provenance
    assert prov["variant"] == "raw" and prov["duplicates_dropped"] == 1
    assert prov["k_core_rounds"] == 3
    assert dataset.counts() == {"users": 6, "items": 6, "interactions": 36}
    assert sequences_by_user(dataset) == expected_core_orders()
    text = dataset.item_text
    assert text is not None and set(text.fields) == {"title", "brand", "categories", "description"}
    i0 = dataset.item_ids.tolist().index("I0")
    assert text.fields["title"][i0] == "T0"  # the first record wins
    assert text.fields["categories"][i0] == "Industrial & Scientific, Lab"
    assert text.fields["description"][i0] == "First paragraph. Second."


def test_raw_reviews_errors_name_file_and_line(tmp_path: Path, write_gz) -> None:
    good = json.dumps({"reviewerID": "u", "asin": "a", "unixReviewTime": 1})
    bad_json = write_gz(tmp_path / "r1.json.gz", [good, "{not json"])
    with pytest.raises(DataError, match=r"r1\.json\.gz, line 2: invalid JSON"):
        amazon2014_raw.read_reviews(bad_json)
    missing = write_gz(tmp_path / "r2.json.gz", [good, json.dumps({"reviewerID": "u", "asin": "b"})])
    with pytest.raises(DataError, match=r"r2\.json\.gz, line 2, key 'unixReviewTime': missing field"):
        amazon2014_raw.read_reviews(missing)
    not_int = write_gz(tmp_path / "r3.json.gz", [json.dumps({"reviewerID": "u", "asin": "b",
                                                             "unixReviewTime": "soon"})])
    with pytest.raises(DataError, match=r"r3\.json\.gz, line 1, key 'unixReviewTime'.*integer"):
        amazon2014_raw.read_reviews(not_int)
    array = write_gz(tmp_path / "r4.json.gz", ["[1, 2]"])
    with pytest.raises(DataError, match=r"r4\.json\.gz, line 1: expected a JSON object, got list"):
        amazon2014_raw.read_reviews(array)
    broken = tmp_path / "r5.json.gz"
    broken.write_bytes(b"this is not gzip")
    with pytest.raises(DataError, match=r"r5\.json\.gz.*cannot read"):
        amazon2014_raw.read_reviews(broken)
    with pytest.raises(DataError, match="file not found"):
        amazon2014_raw.read_reviews(tmp_path / "absent.json.gz")


def test_raw_meta_errors_name_file_and_line(tmp_path: Path, write_gz) -> None:
    meta = write_gz(tmp_path / "meta.json.gz", [repr({"asin": "a", "title": "ok"}),
                                                "{'asin': 'b', 'title': oops}"])
    with pytest.raises(DataError, match=r"meta\.json\.gz, line 2: expected a Python dict literal"):
        amazon2014_raw.read_meta(meta, {"a", "b"})
    meta18 = write_gz(tmp_path / "meta18.json.gz", ['{"asin": "a", "title": "ok"}',
                                                    "{'asin': 'b'}"])
    with pytest.raises(DataError, match=r"meta18\.json\.gz, line 2: invalid JSON"):
        amazon2018_raw.read_meta(meta18, {"a", "b"})
