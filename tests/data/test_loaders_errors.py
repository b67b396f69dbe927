"""Bad input gives a DataError naming the file, the line or key, and what was expected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genrec_bench.data import dataset_names, get_card, load_dataset, resolve_data_root
from genrec_bench.data.cards import load_card
from genrec_bench.data.catalog import CARDS_DIR
from genrec_bench.data.loaders import douban, lcrec, p5
from genrec_bench.errors import DataError, UnknownNameError

# ---------------------------------------------------------------- P5 (sequential_data.txt)


def p5_files(tmp_path: Path, lines: list[str], n_items: int = 6, n_users: int = 3,
             maps: object = None) -> dict[str, Path]:
    seq = tmp_path / "sequential_data.txt"
    seq.write_text("\n".join(lines) + "\n")
    datamaps = tmp_path / "datamaps.json"
    if maps is None:
        maps = {"id2item": {str(i): f"ASIN{i}" for i in range(1, n_items + 1)},
                "id2user": {str(u): f"USER{u}" for u in range(1, n_users + 1)}}
    datamaps.write_text(json.dumps(maps))
    return {"sequences": seq, "datamaps": datamaps}


GOOD_P5 = ["1 1 2 3 4 5", "2 2 3 4 5 6", "3 6 5 4 3 2 1"]


def test_p5_good_fixture_and_proxy_text(tmp_path: Path) -> None:
    files = p5_files(tmp_path, GOOD_P5)
    text = tmp_path / "item_text_proxy.txt"
    text.write_text("ASIN1 red shoe\nASIN3\nOTHER ignored words\n")
    dataset = p5.load(name="t", text=text, **files)
    assert dataset.counts() == {"users": 3, "items": 6, "interactions": 16}
    assert dataset.sequences[2].tolist() == [6, 5, 4, 3, 2, 1]
    assert dataset.user_ids.tolist() == ["USER1", "USER2", "USER3"]
    assert dataset.item_text is not None and dataset.item_text.fields["text"][1] == "red shoe"
    assert dataset.provenance["text"] == {"items": 6, "items_listed": 2, "items_with_text": 1,
                                          "unknown_asins": 1}


def test_p5_attribute_codes_become_a_multi_hot_per_item(tmp_path: Path) -> None:
    files = p5_files(tmp_path, GOOD_P5)
    attributes = tmp_path / "item2attributes.json"
    attributes.write_text(json.dumps({"1": [2, 1], "3": [3, 3], "6": [1]}))     # 2, 4, 5: no codes
    dataset = p5.load(name="t", attributes=attributes, **files)
    table = dataset.item_attributes
    assert table is not None and table.n_attributes == 3 and "3 of 6 items" in table.description
    hot = table.multi_hot()
    assert hot.shape == (7, 3)
    assert hot.tolist() == [[0, 0, 0], [1, 1, 0], [0, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0], [1, 0, 0]]
    assert p5.load(name="t", **files).item_attributes is None


@pytest.mark.parametrize("table,pattern", [
    ([1, 2], r"item2attributes\.json: expected a JSON object \{item id: \[attribute ids\]\}, got list"),
    ({"9": [1]}, r"item2attributes\.json.*9.*item id 9 is outside 1\.\.6"),
    ({"x": [1]}, r"item id must be an integer, got 'x'"),
    ({"2": 3}, r"item2attributes\.json.*2.*expected a list of attribute ids, got int"),
    ({"2": [0]}, r"attribute ids must be positive integers"),
    ({"2": ["b"]}, r"attribute id must be an integer, got 'b'"),
])
def test_p5_malformed_attributes(tmp_path: Path, table: object, pattern: str) -> None:
    files = p5_files(tmp_path, GOOD_P5)
    attributes = tmp_path / "item2attributes.json"
    attributes.write_text(json.dumps(table))
    with pytest.raises(DataError, match=pattern):
        p5.load(name="t", attributes=attributes, **files)


@pytest.mark.parametrize("lines,pattern", [
    (["1 1 2 3 4 5", "2 2 3 x 5 6"], r"sequential_data\.txt, line 2: expected a non-negative integer, got 'x'"),
    (["1 1 2 3 4 5", "2 2 3 4 5 -6"], r"line 2: expected a non-negative integer, got '-6'"),
    (["1 1 2 3 4 5", "2"], r"line 2: user 2 has an empty sequence .*at least 5 items"),
    (["1 1 2 3 4 5", "2 1 2 3"], r"line 2: user 2 has 3 items; every user needs at least 5 items"),
    (["1 1 2 3 4 5", "", "2 2 3 4 5 6"], r"line 2: blank line"),
    (["1 1 2 3 4 5", "2 2 3 4 5 9"], r"line 2: item id 9 is outside 1\.\.6"),
    (["1 1 2 3 4 5", "2 2 3 4 5 1"], r"item ids must be contiguous 1\.\.6; 1 never occur \(first: 6\)"),
    (["1 1 2 3 4 5", "1 2 3 4 5 6"], r"line 2: user id 1 occurs on more than one line"),
    (["1 1 2 3 4 5", "7 2 3 4 5 6"], r"line 2: user id 7 is not in datamaps\.json"),
])
def test_p5_malformed_sequences(tmp_path: Path, lines: list[str], pattern: str) -> None:
    with pytest.raises(DataError, match=pattern):
        p5.load(name="t", **p5_files(tmp_path, lines))


@pytest.mark.parametrize("maps,pattern", [
    ([1, 2, 3], r"datamaps\.json: expected a JSON object with id2item/id2user, got list"),
    ({"id2user": {"1": "u"}}, r"datamaps\.json, key 'id2item': expected a JSON object under 'id2item'"),
    ({"id2item": ["a", "b"], "id2user": {"1": "u"}}, r"key 'id2item': expected a JSON object"),
    ({"id2item": {"1": "a", "x": "b"}, "id2user": {"1": "u"}}, r"key 'id2item': id2item key must be an integer, got 'x'"),
    ({"id2item": {"1": "a", "3": "b"}, "id2user": {"1": "u"}}, r"key 'id2item': item ids must be exactly 1\.\.2"),
])
def test_p5_wrong_datamaps_shape(tmp_path: Path, maps: object, pattern: str) -> None:
    with pytest.raises(DataError, match=pattern):
        p5.load(name="t", **p5_files(tmp_path, GOOD_P5, maps=maps))


def test_p5_invalid_json_and_missing_files(tmp_path: Path) -> None:
    files = p5_files(tmp_path, GOOD_P5)
    files["datamaps"].write_text('{"id2item": {"1": "a",\n  "2": }\n}')
    with pytest.raises(DataError, match=r"datamaps\.json, line 2: invalid JSON"):
        p5.load(name="t", **files)
    with pytest.raises(DataError, match=r"nothing\.txt: file not found"):
        p5.load(name="t", sequences=tmp_path / "nothing.txt", datamaps=files["datamaps"])
    files["sequences"].write_text("")
    with pytest.raises(DataError, match="the file has no users"):
        p5.load(name="t", **files)


def test_p5_non_utf8(tmp_path: Path) -> None:
    files = p5_files(tmp_path, GOOD_P5)
    files["datamaps"].write_bytes(b'{"id2item":\n {"1": "\xff"}}')
    with pytest.raises(DataError, match=r"datamaps\.json, line 2: not UTF-8"):
        p5.load(name="t", **files)


# ---------------------------------------------------------------- LC-Rec (*.inter.json)


def write_json(path: Path, obj: object) -> Path:
    path.write_text(json.dumps(obj))
    return path


GOOD_INTER = {"0": [0, 1, 2, 3, 4], "2": [4, 3, 2, 1, 0, 5], "1": [5, 4, 3, 2, 1]}


def test_lcrec_good_fixture(tmp_path: Path) -> None:
    inter = write_json(tmp_path / "X.inter.json", GOOD_INTER)
    item_text = write_json(tmp_path / "X.item.json", {"5": {"title": "Six", "categories": ["a", "b"]}})
    item2id = tmp_path / "X.item2id"
    item2id.write_text("".join(f"A{i}\t{i}\n" for i in (3, 1, 0, 2, 5, 4)))
    dataset = lcrec.load(name="x", inter=inter, item_text=item_text, item2id=item2id)
    assert dataset.user_ids.tolist() == ["0", "1", "2"]  # numeric key order
    assert dataset.sequences[1].tolist() == [6, 5, 4, 3, 2]  # file index + 1
    assert dataset.item_ids.tolist() == ["<pad>", "A0", "A1", "A2", "A3", "A4", "A5"]
    assert dataset.item_text is not None and dataset.item_text.fields["title"][6] == "Six"
    assert dataset.item_text.fields["categories"][6] == "a, b"


@pytest.mark.parametrize("obj,pattern", [
    ([[0, 1, 2, 3, 4]], r"X\.inter\.json: expected a JSON object \{user_idx: \[item_idx, \.\.\.\]\}, got a list"),
    ({"0": {"a": 1}}, r"X\.inter\.json, key '0': expected a list of item indices, got a dict"),
    ({"0": [0, 1, 2, 3, 4], "1": "0 1 2 3 4"}, r"key '1': expected a list of item indices, got a str"),
    ({"0": [0, 1, 2, 3, 4], "1": [0, 1, "2", 3, 4]}, r"key '1': item indices must be integers, got '2'"),
    ({"0": [0, 1, 2, 3, 4], "1": [0, 1, 2.5, 3, 4]}, r"key '1': item indices must be integers, got 2\.5"),
    ({"0": [0, 1, 2, 3, 4], "1": []}, r"key '1': user 1 has an empty sequence"),
    ({"0": [0, 1, 2, 3, 4], "1": [0, 1]}, r"key '1': user 1 has 2 items; every user needs at least 5"),
    ({"0": [0, 1, 2, 3, 4], "u1": [0, 1, 2, 3, 4]}, r"key 'u1': a user key must be an integer"),
    ({"0": [0, 1, 2, 3, 4], "00": [0, 1, 2, 3, 4]}, r"key '00': user key '00' repeats user 0"),
    ({"0": [0, 1, 2, 3, -4]}, r"key '0': item id -4 is outside 0\.\.3"),
    ({}, r"X\.inter\.json: the file has no users"),
])
def test_lcrec_wrong_shapes(tmp_path: Path, obj: object, pattern: str) -> None:
    inter = write_json(tmp_path / "X.inter.json", obj)
    with pytest.raises(DataError, match=pattern):
        lcrec.load(name="x", inter=inter)


def test_lcrec_companion_files(tmp_path: Path) -> None:
    inter = write_json(tmp_path / "X.inter.json", GOOD_INTER)
    bad_text = write_json(tmp_path / "X.item.json", [{"title": "a"}])
    with pytest.raises(DataError, match=r"X\.item\.json: expected a JSON object"):
        lcrec.load(name="x", inter=inter, item_text=bad_text)
    bad_record = write_json(tmp_path / "X.item.json", {"0": "just a title"})
    with pytest.raises(DataError, match=r"X\.item\.json, key '0': expected an object with title"):
        lcrec.load(name="x", inter=inter, item_text=bad_record)
    item2id = tmp_path / "X.item2id"
    item2id.write_text("A0\t0\nA1 1\n")
    with pytest.raises(DataError, match=r"X\.item2id, line 2: expected 'ID<TAB>index'"):
        lcrec.load(name="x", inter=inter, item2id=item2id)
    item2id.write_text("A0\t0\nA1\tone\n")
    with pytest.raises(DataError, match=r"X\.item2id, line 2: the index must be an integer"):
        lcrec.load(name="x", inter=inter, item2id=item2id)
    item2id.write_text("".join(f"A{i}\t{i}\n" for i in range(4)))
    with pytest.raises(DataError, match=r"X\.inter\.json, key '0': item id 4 is outside 0\.\.3"):
        lcrec.load(name="x", inter=inter, item2id=item2id)
    user2id = tmp_path / "X.user2id"
    user2id.write_text("U0\t0\nU1\t1\n")
    with pytest.raises(DataError, match=r"key '2': user 2 is not in X\.user2id"):
        lcrec.load(name="x", inter=inter, user2id=user2id)


# ---------------------------------------------------------------- Douban (.dat)


@pytest.mark.parametrize("text,pattern", [
    ("1\t2\t5\n1\t3\n", r"r\.dat, line 2: missing fields"),
    ("1\t2\t5\n1\tbook3\t4\n", r"r\.dat, line 2: the item id is not an integer"),
    ("1\t2\t5\nx\t3\t4\n", r"r\.dat, line 2: the user id is not an integer"),
    ("1\t2\t5\n1\t3\tgood\n", r"r\.dat, line 2: the rating is not a number"),
    ("1\t2\t5\n1\t3\t4\t99\t7\n", r"r\.dat, line 2: too many fields"),
    ("1\t2\t5\t100\n1\t3\t4\n", r"r\.dat, line 2: this row has no timestamp but others do"),
    ("1\t2\t5\t100\n1\t3\t4\tlater\n", r"r\.dat, line 2: the timestamp is not an integer"),
    ("1\t2\t5\n\n1\t3\t4\n", r"r\.dat, line 2: missing fields"),
    ("", r"r\.dat: the file is empty"),
])
def test_douban_malformed_rows(tmp_path: Path, text: str, pattern: str) -> None:
    path = tmp_path / "r.dat"
    path.write_text(text)
    with pytest.raises(DataError, match=pattern):
        douban.read_log(path)


def test_douban_with_timestamps_gives_sequences(tmp_path: Path) -> None:
    rows = [f"{u}\t{i}\t4\t{1000 - 10 * i + u}" for u in range(1, 7) for i in range(1, 7)]
    path = tmp_path / "r.dat"
    path.write_text("\n".join(rows))
    dataset = douban.load(name="d", ratings=path)
    assert dataset.counts() == {"users": 6, "items": 6, "interactions": 36}
    assert [str(dataset.item_ids[i]) for i in dataset.sequences[0]] == ["6", "5", "4", "3", "2", "1"]
    with pytest.raises(DataError, match="no timestamps"):
        path.write_text("1\t2\t5\n")
        douban.load(name="d", ratings=path)


# ---------------------------------------------------------------- cards and catalog


def test_every_card_is_valid_and_named() -> None:
    assert dataset_names() == sorted([
        "amazon2014-beauty", "amazon2014-sports", "amazon2014-toys", "amazon2014-clothing",
        "amazon2014-phones", "amazon2014-electronics", "amazon2018-scientific",
        "amazon2018-instruments", "amazon2018-games", "douban-book", "douban-music",
        "douban-movie", "kuairand-1k", "kuairand-pure"])
    for name in dataset_names():
        card = get_card(name)
        assert card.name == name and card.variants() and card.licence and card.citation
        for variant in card.variants():
            for d in variant.downloads:
                assert d.sha256 == "" or len(d.sha256) == 64


def test_datasets_folder_is_not_a_python_package() -> None:
    assert not (CARDS_DIR / "__init__.py").exists()
    assert not list(CARDS_DIR.glob("**/*.py"))
    assert (CARDS_DIR / "README.md").is_file()


def test_a_missing_cards_folder_says_how_to_install(tmp_path, monkeypatch) -> None:
    from genrec_bench.data import catalog

    monkeypatch.setattr(catalog, "CARDS_DIR", tmp_path / "site-packages" / "datasets")
    with pytest.raises(DataError, match=r"site-packages.*no dataset cards folder.*pip install -e"):
        dataset_names()


def card_text(**override: str) -> str:
    base = {"name": '"x"', "description": '"d"', "licence": '"l"', "folder": '"x"',
            "source": '"s"', "citation": '"c"'}
    base.update(override)
    top = "\n".join(f"{k} = {v}" for k, v in base.items())
    return top + '\n\n[preprocessed]\nformat = "p5"\nfiles = { sequences = "s.txt", datamaps = "d.json" }\n'


@pytest.mark.parametrize("text,pattern", [
    (card_text(colour='"red"'), r"x\.toml, key 'colour': unknown key"),
    (card_text() + "min_len = 5\n", r"key 'preprocessed\.min_len': unknown key"),
    (card_text() + 'sha256 = { "s.txt" = "abc" }\n', r"key 'preprocessed\.sha256\.s\.txt': expected 64"),
    (card_text() + "k_core = 5\n", r"key 'preprocessed\.k_core': format 'p5' takes no option"),
    (card_text() + "min_length = true\n", r"key 'preprocessed\.min_length': expected a int"),
    (card_text(name='"y"'), r"key 'name': name 'y' must equal the file name 'x'"),
    (card_text().replace('format = "p5"', 'format = "csv"'), r"key 'preprocessed\.format': unknown format 'csv'"),
    (card_text().replace("datamaps =", "maps ="), r"key 'preprocessed\.files': format 'p5' needs exactly"),
    (card_text() + "[[preprocessed.downloads]]\nfile = \"a\"\nurl = \"ftp://a\"\nsha256 = \"\"\n",
     r"key 'preprocessed\.downloads\[0\]\.url': expected an http\(s\) URL"),
    ("name = \n", r"x\.toml: invalid TOML"),
])
def test_card_validation(tmp_path: Path, text: str, pattern: str) -> None:
    path = tmp_path / "x.toml"
    path.write_text(text)
    with pytest.raises(DataError, match=pattern):
        load_card(path)


def test_unknown_dataset_lists_valid_names() -> None:
    with pytest.raises(UnknownNameError) as info:
        load_dataset("amazon2014-beuaty", "/")
    assert "amazon2014-beauty" in str(info.value) and "kuairand-pure" in str(info.value)


def test_missing_files_list_expected_files_and_download_command(tmp_path: Path) -> None:
    (tmp_path / "amazon2014-sports").mkdir()
    (tmp_path / "amazon2014-sports" / "sequential_data.txt").write_text("1 1 2 3 4 5\n")
    with pytest.raises(DataError) as info:
        load_dataset("amazon2014-sports", tmp_path)
    message = str(info.value)
    assert "amazon2014-sports" in message and "(missing: datamaps.json)" in message
    assert "reviews_Sports_and_Outdoors_5.json.gz" in message
    assert f"python -m genrec_bench.data.download amazon2014-sports --data-root {tmp_path}" in message


def test_preprocessed_wins_over_raw_and_variant_can_be_forced(tmp_path: Path, write_reviews) -> None:
    folder = tmp_path / "amazon2014-toys"
    folder.mkdir()
    p5_files(folder, GOOD_P5)
    rows = [(f"u{u}", f"i{i}", i) for u in range(5) for i in range(5)]
    write_reviews(folder / "reviews_Toys_and_Games_5.json.gz", rows)
    with pytest.warns(UserWarning, match="differ"):
        assert load_dataset("amazon2014-toys", tmp_path).provenance["variant"] == "preprocessed"
    with pytest.warns(UserWarning, match="differ"):
        raw = load_dataset("amazon2014-toys", tmp_path, variant="raw")
    assert raw.provenance["variant"] == "raw" and raw.counts()["interactions"] == 25


def test_resolve_data_root_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    given, env = tmp_path / "given", tmp_path / "env"
    given.mkdir()
    env.mkdir()
    monkeypatch.setenv("GENREC_DATA", str(env))
    assert resolve_data_root(str(given)) == given.resolve()
    assert resolve_data_root(None) == env.resolve()
    with pytest.raises(DataError, match="--data-root is not a folder"):
        resolve_data_root(str(tmp_path / "absent"))
    monkeypatch.setenv("GENREC_DATA", str(tmp_path / "absent"))
    with pytest.raises(DataError, match=r"\$GENREC_DATA is not a folder"):
        resolve_data_root(None)
    monkeypatch.delenv("GENREC_DATA")
    work = tmp_path / "project"
    work.mkdir()
    monkeypatch.chdir(work)
    with pytest.raises(DataError, match="no data root: pass --data-root DIR, or set GENREC_DATA"):
        resolve_data_root(None)
    (tmp_path / "shared" / "data").mkdir(parents=True)
    assert resolve_data_root(None) == (tmp_path / "shared" / "data").resolve()


def test_sha256_cache_follows_file_changes(tmp_path: Path) -> None:
    from genrec_bench.data.checksums import sha256_file

    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    first = sha256_file(path)
    assert first == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert sha256_file(path) == first
    path.write_bytes(b"abcd")
    assert sha256_file(path) != first
