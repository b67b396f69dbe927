"""The registry of reported numbers: its content (spot checks against the papers, counts) and
its validation (malformed entries are refused with the file, entry and key named)."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from pathlib import Path

import pytest

from genrec_bench.errors import DataError
from genrec_bench.reported import DEFAULT_DIRECTORY, ReportedNumber, load_reported, lookup

FLEX = "FlexCode"
GEN = "GenCDR"
SEEDS = Path(__file__).resolve().parents[2].parent / "shared" / "seeds"


@pytest.fixture(scope="module")
def numbers() -> list[ReportedNumber]:
    return load_reported()


def one(numbers, **filters) -> ReportedNumber:
    found = lookup(numbers, **filters)
    assert len(found) == 1, (filters, found)
    return found[0]


# ----------------------------------------------------------------------------- content

# (paper, table, dataset, method, metric, setting, value), typed from the seed documents'
# tables and from methods.md, independently of the TOML files.
SPOT_CHECKS = [
    (FLEX, "Table 1", "amazon2014-beauty", "flexcode", "recall@10", None, 0.0769),
    (FLEX, "Table 1", "amazon2014-beauty", "flexcode", "ndcg@10", None, 0.0483),
    (FLEX, "Table 1", "amazon2014-beauty", "sasrec", "ndcg@10", None, 0.0318),
    (FLEX, "Table 1", "amazon2014-beauty", "vq-rec", "ndcg@5", None, 0.0317),
    (FLEX, "Table 1", "amazon2014-sports", "url", "recall@10", None, 0.0449),
    (FLEX, "Table 1", "amazon2014-sports", "flexcode-cf-only", "ndcg@5", None, 0.0143),
    (FLEX, "Table 1", "kuairand-1k", "flexcode", "ndcg@10", None, 0.0632),
    (FLEX, "Table 1", "kuairand-1k", "caser", "recall@5", None, 0.0074),
    (FLEX, "Table 1", "kuairand-1k", "lc-rec", "recall@10", None, 0.0684),
    (FLEX, "Table 3", "kuairand-1k", "flexcode-no-align", "recall@10", None, 0.0809),
    (FLEX, "Table 3", "kuairand-1k", "flexcode-fix", "ndcg@10", None, 0.0598),
    (FLEX, "Table 4", "kuairand-1k", "flexcode", "ndcg@10", "L=4", 0.0685),
    (FLEX, "Table 4", "kuairand-1k", "flexcode-cf-only", "ndcg@10", "L=6", 0.0397),
    (FLEX, "Table 5", "kuairand-1k", "flexcode", "ndcg@10",
     "K=1024, d=64, lambda_align=0.1, lambda_smooth=0.01", 0.0635),
    (FLEX, "Table 5", "kuairand-1k", "flexcode", "ndcg@10",
     "K=512, d=64, lambda_align=0.1, lambda_smooth=0.001", 0.0621),
    (GEN, "Table 2", "douban-movie", "gencdr", "recall@10", None, 0.1971),
    (GEN, "Table 2", "amazon2014-phones", "gencdr", "ndcg@5", None, 0.0406),
    (GEN, "Table 2", "douban-book", "tiger", "recall@5", None, 0.0172),
    (GEN, "Table 2", "amazon2014-electronics", "hstu", "ndcg@10", None, 0.0271),
    (GEN, "Table 2", "amazon2014-sports", "bert4rec", "recall@5", None, 0.0188),
    (GEN, "Table 2", "amazon2014-clothing", "c2dsr", "ndcg@5", None, 0.0158),
    (GEN, "Table 3", "amazon2014-clothing", "gencdr-wo-universal-experts", "ndcg@10", None, 0.0162),
    (GEN, "Table 3", "amazon2014-electronics", "gencdr-wo-prefix-tree", "ndcg@10", None, 0.0274),
    ("LETTER", "main results", "amazon2014-beauty", "letter", "recall@10", None, 0.0672),
    ("TIGER (Rajput", "main results", "amazon2014-toys", "sasrec", "ndcg@10", None, 0.0374),
    ("ETEGRec (Liu", "ablation", "amazon2023-games", "etegrec-joint", "ndcg@10", None, 0.0428),
    ("pmixer", "Result_Norm.md", "amazon2014-beauty", "sasrec", "ndcg@10", None, 0.3104),
]


@pytest.mark.parametrize("paper, table, dataset, method, metric, setting, value", SPOT_CHECKS)
def test_spot_checks(numbers, paper, table, dataset, method, metric, setting, value):
    n = one(numbers, paper_contains=paper, table=table, dataset=dataset, method=method,
            metric=metric, setting=setting)
    assert n.value == value
    assert n.setting == setting


def test_entry_counts_per_paper_table(numbers):
    counts = Counter((n.paper.split(" (")[0], n.table) for n in numbers)
    assert counts == {
        (FLEX, "Table 1"): 180, (FLEX, "Table 3"): 10, (FLEX, "Table 4"): 16, (FLEX, "Table 5"): 11,
        (GEN, "Table 2"): 240, (GEN, "Table 3"): 28,
        ("TIGER", "main results"): 24, ("LETTER", "main results"): 12,
        ("DECOR", "main results"): 12, ("ETEGRec", "main results"): 7, ("ETEGRec", "ablation"): 6,
        ("pmixer/SASRec.pytorch Result_Norm.md", "Result_Norm.md"): 4,
    }
    assert len(numbers) == 550


def test_flexcode_table1_rows_are_complete(numbers):
    table1 = lookup(numbers, paper_contains=FLEX, table="Table 1")
    cells: dict[str, set] = {}
    for n in table1:
        cells.setdefault(n.method, set()).add((n.dataset, n.metric))
    datasets = ("amazon2014-beauty", "amazon2014-sports", "kuairand-1k")
    metrics = ("recall@5", "ndcg@5", "recall@10", "ndcg@10")
    full = {(d, m) for d in datasets for m in metrics}
    # 16 method rows; S3-Rec, Recformer and COBRA print "—" for all of KuaiRand
    not_on_kuairand = {"s3-rec", "recformer", "cobra"}
    assert len(cells) == 16
    for method, got in cells.items():
        if method in not_on_kuairand:
            assert got == {(d, m) for d in datasets[:2] for m in metrics}, method
        else:
            assert got == full, method
    assert len(table1) == 13 * 12 + 3 * 8 == 180
    assert {n.method_label for n in table1 if n.method == "flexcode"} == {"FlexCode (ours)"}


def test_gencdr_table2_is_complete(numbers):
    table2 = lookup(numbers, paper_contains=GEN, table="Table 2")
    keys = Counter((n.dataset, n.method, n.metric) for n in table2)
    assert len(keys) == 6 * 10 * 4 == len(table2)
    assert {k[0] for k in keys} == {"amazon2014-sports", "amazon2014-clothing", "amazon2014-phones",
                                    "amazon2014-electronics", "douban-book", "douban-movie"}
    assert len({k[1] for k in keys}) == 10


def test_gru4rec_kuairand_ndcg5_is_read_with_a_note(numbers):
    n = one(numbers, paper_contains=FLEX, table="Table 1", dataset="kuairand-1k",
            method="gru4rec", metric="ndcg@5")
    assert n.value == 0.0217
    assert "00217" in n.note


def test_status_and_protocol_invariants(numbers):
    for n in numbers:
        from_seed = n.paper.startswith((FLEX + " (", GEN + " ("))
        assert (n.source == "primary") == from_seed, n
        assert (n.protocol == "sampled") == n.paper.startswith("pmixer"), n
    unverified = {(n.paper.split(" (")[0], n.dataset, n.method, n.metric)
                  for n in numbers if n.source == "unverified"}
    assert ("ETEGRec", "amazon2023-instruments", "etegrec", "recall@10") in unverified
    assert {u[1:3] for u in unverified} == {("amazon2014-toys", "sasrec"),
                                           ("amazon2023-instruments", "etegrec")}


def test_secondary_tiger_table_agrees_with_flexcode_reprint(numbers):
    """FlexCode's Table 1 reprints TIGER's and SASRec's Beauty/Sports rows of the TIGER paper."""
    for method in ("tiger", "sasrec"):
        for dataset in ("amazon2014-beauty", "amazon2014-sports"):
            for metric in ("recall@5", "ndcg@5", "recall@10", "ndcg@10"):
                flex = one(numbers, paper_contains=FLEX, table="Table 1", dataset=dataset,
                           method=method, metric=metric)
                tiger = one(numbers, paper_contains="TIGER (Rajput", dataset=dataset,
                            method=method, metric=metric)
                assert flex.value == tiger.value


def test_lookup_filters(numbers):
    assert lookup(numbers, paper_contains="flexcode") == lookup(numbers, paper_contains="FLEXCODE")
    budget = lookup(numbers, paper_contains=FLEX, table="Table 4", method="flexcode")
    assert [n.setting for n in budget] == ["L=3", "L=4", "L=5", "L=6"]
    assert [n.value for n in budget] == [0.0632, 0.0685, 0.0691, 0.0693]
    assert lookup(numbers, method="no-such-method") == []
    assert len(lookup(numbers, setting="L=5")) == 4


def test_default_directory_and_frozen(numbers):
    assert DEFAULT_DIRECTORY == Path(__file__).resolve().parents[2] / "results" / "reported"
    assert load_reported(DEFAULT_DIRECTORY) == numbers
    with pytest.raises(dataclasses.FrozenInstanceError):
        numbers[0].value = 1.0  # type: ignore[misc]


# ------------------------------------------------- cross-check with the seed documents

def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.split("|") if c.strip()]


def _seed(name: str) -> list[str]:
    path = SEEDS / name
    if not path.is_file():
        pytest.skip(f"seed document {path} is not available")
    return path.read_text(encoding="utf-8").splitlines()


def _value(cell: str) -> float:
    cell = cell.split(" ")[0]  # GenCDR Table 3 prints "0.0483 (↓5.7%)"
    return 0.0217 if cell == "00217" else float(cell)


def test_flexcode_table1_matches_seed(numbers):
    lines = _seed("flexcode_dual_codebook.txt")
    start = next(i for i, ln in enumerate(lines) if ln.startswith("| Model | Beauty"))
    rows = [c for c in map(_cells, lines[start + 3:start + 21]) if len(c) == 13]
    assert len(rows) == 16
    datasets = ("amazon2014-beauty", "amazon2014-sports", "kuairand-1k")
    metrics = ("recall@5", "ndcg@5", "recall@10", "ndcg@10")
    checked = 0
    for label, *vals in rows:
        for j, cell in enumerate(vals):
            found = lookup(numbers, paper_contains=FLEX, table="Table 1",
                           dataset=datasets[j // 4], metric=metrics[j % 4])
            found = [n for n in found if n.method_label == label]
            if cell == "—":
                assert found == [], (label, j)
                continue
            assert [n.value for n in found] == [_value(cell)], (label, j)
            checked += 1
    assert checked == 180


def test_gencdr_tables_match_seed(numbers):
    lines = _seed("gencdr_cross_domain.txt")
    domains = {"Sports": "amazon2014-sports", "Clothing": "amazon2014-clothing",
               "Phones": "amazon2014-phones", "Electronics": "amazon2014-electronics",
               "Books": "douban-book", "Movies": "douban-movie"}
    metrics = {"R@5": "recall@5", "N@5": "ndcg@5", "R@10": "recall@10", "N@10": "ndcg@10"}
    start = next(i for i, ln in enumerate(lines) if ln.startswith("| Scene | Domain | Metric"))
    labels = _cells(lines[start])[3:]
    domain, checked = None, 0
    for line in lines[start + 1:start + 25]:
        cells = _cells(line)
        head, vals = cells[:-10], cells[-10:]
        domain = next((h for h in head if h in domains), domain)
        metric = metrics[head[-1]]
        for label, cell in zip(labels, vals, strict=True):
            n = [x for x in lookup(numbers, paper_contains=GEN, table="Table 2",
                                   dataset=domains[domain], metric=metric)
                 if x.method_label == label]
            assert [x.value for x in n] == [_value(cell)], (domain, metric, label)
            checked += 1
    assert checked == 240

    start = next(i for i, ln in enumerate(lines) if ln.startswith("| Category | Variant"))
    header = _cells(lines[start])[2:]
    checked = 0
    for line in lines[start + 2:start + 9]:
        cells = _cells(line)
        label, vals = cells[-5], cells[-4:]
        for dom, cell in zip(header, vals, strict=True):
            n = [x for x in lookup(numbers, paper_contains=GEN, table="Table 3",
                                   dataset=domains[dom], metric="ndcg@10")
                 if x.method_label == label]
            assert [x.value for x in n] == [_value(cell)], (dom, label)
            checked += 1
    assert checked == 28


def test_flexcode_tables_3_4_5_match_seed(numbers):
    lines = _seed("flexcode_dual_codebook.txt")
    start = next(i for i, ln in enumerate(lines) if ln.startswith("| Model Variant |"))
    for label, r10, n10 in map(_cells, lines[start + 2:start + 7]):
        for metric, cell in (("recall@10", r10), ("ndcg@10", n10)):
            n = [x for x in lookup(numbers, paper_contains=FLEX, table="Table 3", metric=metric)
                 if x.method_label == label]
            assert [x.value for x in n] == [_value(cell)], (label, metric)
    start = next(i for i, ln in enumerate(lines) if ln.startswith("| Model | L=3"))
    for label, *vals in map(_cells, lines[start + 2:start + 6]):
        for budget, cell in zip((3, 4, 5, 6), vals, strict=True):
            n = [x for x in lookup(numbers, paper_contains=FLEX, table="Table 4",
                                   setting=f"L={budget}") if x.method_label == label]
            assert [x.value for x in n] == [_value(cell)], (label, budget)
    start = next(i for i, ln in enumerate(lines) if ln.startswith("| Parameter Setting |"))
    rows = [c[-5:] for c in map(_cells, lines[start + 2:start + 13])]
    assert len(rows) == 11
    for k, d, align, smooth, cell in rows:
        setting = f"K={k}, d={d}, lambda_align={align}, lambda_smooth={smooth}"
        n = one(numbers, paper_contains=FLEX, table="Table 5", setting=setting)
        assert n.value == _value(cell)


# ----------------------------------------------------------------------------- validation

GOOD = """
[[number]]
paper = "Some paper"
table = "Table 1"
dataset = "amazon2014-beauty"
dataset_version = "Amazon 2014 5-core"
method = "sasrec"
method_label = "SASRec"
metric = "ndcg@10"
value = 0.0318
protocol = "full"
source = "primary"
note = ""
"""


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def expect_error(directory: Path, path: Path, key: str, words: str) -> DataError:
    with pytest.raises(DataError) as info:
        load_reported(directory)
    err = info.value
    assert err.path == str(path)
    assert err.key == key
    assert path.name in str(err) and repr(key) in str(err)
    assert re.search(words, str(err)), str(err)
    return err


def test_good_entry_loads(tmp_path):
    write(tmp_path, "a.toml", GOOD + GOOD.replace('"ndcg@10"', '"ndcg@10"\nsetting = "L=4"'))
    loaded = load_reported(tmp_path)
    assert [n.setting for n in loaded] == [None, "L=4"]
    assert loaded[0] == ReportedNumber(
        paper="Some paper", table="Table 1", dataset="amazon2014-beauty",
        dataset_version="Amazon 2014 5-core", method="sasrec", method_label="SASRec",
        metric="ndcg@10", value=0.0318, protocol="full", source="primary")


def test_unknown_key_is_named(tmp_path):
    path = write(tmp_path, "a.toml", GOOD + GOOD.replace('note = ""', 'nots = ""'))
    err = expect_error(tmp_path, path, "number[1].nots", "unknown key")
    assert err.line == 15  # the second [[number]] header


def test_value_out_of_range_is_named(tmp_path):
    path = write(tmp_path, "a.toml", GOOD.replace("0.0318", "3.18"))
    expect_error(tmp_path, path, "number[0].value", r"outside \[0, 1\]")


def test_integer_value_is_refused(tmp_path):
    path = write(tmp_path, "a.toml", GOOD.replace("0.0318", "1"))
    expect_error(tmp_path, path, "number[0].value", "must be a float")


@pytest.mark.parametrize("metric", ["NDCG@10", "hr@10", "ndcg@0", "ndcg10", "precision@5"])
def test_bad_metric_is_named(tmp_path, metric):
    path = write(tmp_path, "a.toml", GOOD.replace('"ndcg@10"', f'"{metric}"'))
    expect_error(tmp_path, path, "number[0].metric", "name@K")


@pytest.mark.parametrize("key, old, new", [
    ("protocol", '"full"', '"pop100"'),
    ("source", '"primary"', '"blog"'),
    ("method", '"sasrec"', '"SASRec "'),
    ("dataset", '"amazon2014-beauty"', '"Amazon Beauty"'),
])
def test_bad_field_values_are_named(tmp_path, key, old, new):
    path = write(tmp_path, "a.toml", GOOD.replace(f"{key} = {old}", f"{key} = {new}"))
    expect_error(tmp_path, path, f"number[0].{key}", key)


def test_missing_key_is_named(tmp_path):
    path = write(tmp_path, "a.toml", GOOD.replace('protocol = "full"\n', ""))
    expect_error(tmp_path, path, "number[0].protocol", "missing")


def test_duplicate_in_one_file(tmp_path):
    path = write(tmp_path, "a.toml", GOOD + GOOD)
    expect_error(tmp_path, path, "number[1]", "duplicate.*a.toml number\\[0\\]")


def test_duplicate_across_files(tmp_path):
    write(tmp_path, "a.toml", GOOD)
    path = write(tmp_path, "b.toml", GOOD.replace("0.0318", "0.0320"))
    expect_error(tmp_path, path, "number[0]", "duplicate.*a.toml number\\[0\\]")


def test_same_key_with_different_setting_is_not_a_duplicate(tmp_path):
    write(tmp_path, "a.toml", GOOD.replace('"ndcg@10"', '"ndcg@10"\nsetting = "L=3"')
          + GOOD.replace('"ndcg@10"', '"ndcg@10"\nsetting = "L=4"'))
    assert len(load_reported(tmp_path)) == 2


def test_invalid_toml_and_unknown_top_level_key(tmp_path):
    bad = write(tmp_path / "x", "a.toml", "[[number]\n")
    with pytest.raises(DataError, match="not valid TOML") as info:
        load_reported(tmp_path / "x")
    assert info.value.path == str(bad)
    path = write(tmp_path / "y", "a.toml", 'title = "x"\n' + GOOD)
    expect_error(tmp_path / "y", path, "title", "unknown top-level")


def test_missing_or_empty_directory(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_reported(tmp_path / "nowhere")
    with pytest.raises(DataError, match=r"no \*\.toml files"):
        load_reported(tmp_path)
