"""Property-based bad input: whatever bytes a data file holds, every loader either loads it
or raises the suite's own DataError naming the file (never a bare traceback from deep
inside). Bounded: a fixed number of examples per loader, no deadline surprises in CI."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genrec_bench.data.loaders import amazon2014_raw, amazon2018_raw, douban, kuairand, lcrec, p5
from genrec_bench.errors import DataError

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])

tokens = st.sampled_from(["1", "2", "3", "7", "0", "-1", "x", "1.5", "", " ", "\t", "99999999999999999999", "nan"])
lines = st.lists(st.lists(tokens, max_size=9).map(" ".join), max_size=12).map("\n".join)
json_values = st.recursive(st.none() | st.booleans() | st.integers(-3, 20) | st.text(max_size=4),
                           lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=3), c, max_size=4),
                           max_leaves=12)


def check(load, **files) -> None:
    try:
        load(name="fuzz", **files)
    except DataError as error:
        paths = [p for v in files.values() for p in (v if isinstance(v, list) else [v])]
        assert any(str(p) in str(error) for p in paths), error


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


@FUZZ
@given(body=lines, maps=json_values)
def test_p5_files(body, maps):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        check(p5.load, sequences=write(folder, "sequential_data.txt", body),
              datamaps=write(folder, "datamaps.json", json.dumps(maps)))


@FUZZ
@given(inter=json_values, text=json_values)
def test_lcrec_files(inter, text):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        check(lcrec.load, inter=write(folder, "X.inter.json", json.dumps(inter)),
              item_text=write(folder, "X.item.json", json.dumps(text)))


@FUZZ
@given(body=st.lists(st.lists(tokens, max_size=5).map("\t".join), max_size=15).map("\n".join))
def test_douban_file(body):
    with tempfile.TemporaryDirectory() as tmp:
        check(douban.load, ratings=write(Path(tmp), "ratings.dat", body))


@FUZZ
@given(header=st.lists(st.sampled_from(["user_id", "video_id", "time_ms", "is_click", "date", "x"]), max_size=5),
       rows=st.lists(st.lists(tokens, min_size=0, max_size=5).map(",".join), max_size=10))
def test_kuairand_csv(header, rows):
    with tempfile.TemporaryDirectory() as tmp:
        check(kuairand.load, logs=[write(Path(tmp), "log_standard_x.csv", "\n".join([",".join(header), *rows]))])


@FUZZ
@given(records=st.lists(json_values.map(json.dumps), max_size=10))
def test_raw_amazon_reviews(records):
    import gzip

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "reviews_X_5.json.gz"
        with gzip.open(path, "wt") as f:
            f.write("\n".join(records))
        check(amazon2014_raw.load, reviews=path)
        check(amazon2018_raw.load, reviews=path)
