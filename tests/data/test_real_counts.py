"""The real datasets in the shared data folder load with exactly the README's counts."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from genrec_bench.data import get_card, load_dataset
from genrec_bench.data.loaders import douban
from genrec_bench.data.split import leave_last_out
from genrec_bench.errors import DataError

# (users, items, interactions) from /work/shared/data/README.md
README_COUNTS = {
    "amazon2014-beauty": (22_363, 12_101, 198_502),
    "amazon2014-sports": (35_598, 18_357, 296_337),
    "amazon2018-scientific": (8_317, 4_344, 58_492),
    "amazon2018-instruments": (24_772, 9_922, 206_153),
    "amazon2018-games": (50_546, 16_859, 452_989),
}


def read_sha256sums(root: Path) -> dict[str, str]:
    lines = (root / "SHA256SUMS").read_text().splitlines()
    return {path: digest for digest, path in (line.split() for line in lines if line.strip())}


@pytest.mark.parametrize("name", sorted(README_COUNTS))
def test_counts_split_and_provenance(name: str, data_root: Path) -> None:
    dataset = load_dataset(name, data_root)
    users, items, interactions = README_COUNTS[name]
    assert dataset.counts() == {"users": users, "items": items, "interactions": interactions}
    seqs = dataset.sequences
    assert seqs.items.min() == 1 and seqs.items.max() == dataset.n_items
    assert seqs.lengths.min() >= 5
    assert dataset.user_ids.shape == (users,) and dataset.item_ids.shape == (items + 1,)
    assert np.unique(dataset.user_ids).size == users and dataset.item_ids[0] == "<pad>"

    splits = leave_last_out(dataset)
    assert len(splits.test) == len(splits.valid) == users
    assert splits.train.items.shape[0] == interactions - 2 * users
    np.testing.assert_array_equal(splits.test.targets, seqs.last())

    prov = dataset.provenance
    assert prov["variant"] == "preprocessed" and prov["counts_match_expected"] is True
    assert prov["format"] == get_card(name).preprocessed.format
    sums = read_sha256sums(data_root)
    for record in prov["files"]:
        relative = str(Path(record["path"]).relative_to(data_root))
        assert record["sha256"] == sums[relative]
        assert record["sha256_matches_card"] is True
    json.dumps(prov)  # run records store it as JSON


def test_p5_numbering_is_the_files(data_root: Path) -> None:
    dataset = load_dataset("amazon2014-beauty", data_root)
    lines = (data_root / "amazon2014-beauty" / "sequential_data.txt").read_text().splitlines()
    for u in (0, 1, 5000, len(lines) - 1):
        tokens = [int(t) for t in lines[u].split()]
        assert dataset.sequences[u].tolist() == tokens[1:]
    assert dataset.item_ids[1] == "B004756YJA" and dataset.user_ids[0] == "A1YJEY40YUW4SE"


def test_beauty_proxy_text_covers_every_item(data_root: Path) -> None:
    dataset = load_dataset("amazon2014-beauty", data_root)
    text = dataset.item_text
    assert text is not None and text.is_proxy and "IDGenRec" in text.description
    assert "NOT the real title" in text.description
    column = text.fields["text"]
    assert list(text.fields) == ["text"] and len(column) == dataset.n_items + 1
    stats = dataset.provenance["text"]
    assert stats["items_listed"] == dataset.n_items and stats["unknown_asins"] == 0
    # every item has its line; the ID generator left exactly one item (B001LTVF7G) without words
    empty = [dataset.item_ids[i] for i in range(1, dataset.n_items + 1) if not column[i]]
    assert empty == ["B001LTVF7G"] and stats["items_with_text"] == dataset.n_items - 1
    assert column[dataset.item_ids.tolist().index("B000GFCRGO")] == "sedu ionic ceramic tourmaline flat"


def test_beauty_and_sports_have_s3rec_attribute_codes(data_root: Path) -> None:
    for name, n_attributes in (("amazon2014-beauty", 637), ("amazon2014-sports", 2277)):
        dataset = load_dataset(name, data_root)
        table = dataset.item_attributes
        assert table is not None and table.n_attributes == n_attributes
        lengths = np.diff(table.codes.offsets)
        assert lengths.shape[0] == dataset.n_items + 1 and lengths[0] == 0 and (lengths[1:] > 0).all()
    beauty = load_dataset("amazon2014-beauty", data_root).item_attributes
    assert beauty.codes[1].tolist() == [1, 162, 171, 173] and beauty.codes[4].tolist() == [1, 2, 3]  # as in the file


def test_scientific_has_real_text(data_root: Path) -> None:
    dataset = load_dataset("amazon2018-scientific", data_root)
    text = dataset.item_text
    assert text is not None and not text.is_proxy
    assert set(text.fields) == {"title", "description", "brand", "categories"}
    assert text.fields["title"][1].startswith("SUPCO SPP6 Relay/Capacitor Hard Start Kit")
    assert text.fields["brand"][1] == "Sealed Unit Parts Co., Inc."
    titles = text.fields["title"][1:]
    assert sum(1 for t in titles if t) > 0.95 * dataset.n_items
    assert dataset.sequences[0].tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9]  # file [0..8] + 1


def test_lcrec_id_maps_give_raw_ids(data_root: Path) -> None:
    dataset = load_dataset("amazon2018-games", data_root)
    assert dataset.item_ids[1] == "B00L59D9HG" and dataset.user_ids[0] == "A31160I7G2EZVN"
    assert dataset.item_text is None


@pytest.mark.parametrize("name,counts", [("book", (2_110, 6_777, 96_041)),
                                         ("music", (1_672, 5_567, 69_709))])
def test_douban_loads_as_a_log_but_not_as_sequences(name: str, counts: tuple[int, int, int],
                                                   data_root: Path) -> None:
    path = data_root / "douban" / f"douban_{name}_ratings.dat"
    log = douban.read_log(path)
    assert log.timestamp is None
    assert (np.unique(log.user).size, np.unique(log.item).size, len(log)) == counts
    with pytest.raises(DataError) as info:
        load_dataset(f"douban-{name}", data_root)
    message = str(info.value)
    assert f"douban_{name}_ratings.dat" in message
    assert "no timestamps" in message and "chronological" in message


def test_missing_datasets_say_what_to_do(data_root: Path) -> None:
    with pytest.raises(DataError) as info:
        load_dataset("amazon2014-toys", data_root)
    message = str(info.value)
    assert "sequential_data.txt" in message and "reviews_Toys_and_Games_5.json.gz" in message
    assert "python -m genrec_bench.data.download amazon2014-toys" in message
    with pytest.raises(DataError, match="log_standard_"):
        load_dataset("kuairand-pure", data_root)
    with pytest.raises(DataError, match="douban_movie_ratings.dat"):
        load_dataset("douban-movie", data_root)


def test_beauty_loads_fast(data_root: Path) -> None:
    start = time.perf_counter()
    load_dataset("amazon2014-beauty", data_root)
    assert time.perf_counter() - start < 3.0
