"""KuaiRand loader on small CSV fixtures in the official ``log_standard_*.csv`` schema."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from genrec_bench.data import load_dataset
from genrec_bench.data.loaders import kuairand
from genrec_bench.errors import DataError

SCHEMA = list(kuairand.SCHEMA)


def row(user: int, video: int, time_ms: int, click: int) -> dict[str, int]:
    values = dict.fromkeys(SCHEMA, 0)
    values.update(user_id=user, video_id=video, time_ms=time_ms, is_click=click,
                  date=20220408, hourmin=1200, play_time_ms=1000 * click, duration_ms=20000,
                  tab=1)
    return values


def write_csv(path: Path, rows: list[dict[str, int]], columns: list[str] = SCHEMA) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def two_files(folder: Path) -> list[Path]:
    """Users 1..6 click videos 10..15 (a 5-core) split over two files.

    The second file holds the EARLIER clicks of user 1 (times must win over file order);
    non-clicks (is_click = 0) of video 99 and of real videos are spread everywhere;
    user 1 clicks videos 11 and 12 at the same time_ms (file order kept).
    """
    first, second = [], []
    for user in range(1, 7):
        for k, video in enumerate(range(10, 16)):
            t = 1_650_000_000_000 + 1000 * k
            if user == 1 and video in (11, 12):
                t = 1_649_000_000_500  # a tie, earlier than everything else
            (second if user == 1 and video < 13 else first).append(row(user, video, t, 1))
            first.append(row(user, 99, t + 1, 0))
            second.append(row(user, video, t + 2, 0))
    return [write_csv(folder / "log_standard_4_08_to_4_21_pure.csv", first),
            write_csv(folder / "log_standard_4_22_to_5_08_pure.csv", second)]


def test_clicks_ordered_by_time_across_files(tmp_path: Path) -> None:
    paths = two_files(tmp_path)
    dataset = kuairand.load(name="k", logs=paths)
    assert dataset.counts() == {"users": 6, "items": 6, "interactions": 36}
    assert "99" not in dataset.item_ids.tolist()  # only non-clicks
    seqs = {str(dataset.user_ids[u]): [str(dataset.item_ids[i]) for i in dataset.sequences[u]]
            for u in range(dataset.n_users)}
    # user 1: the tie (11 before 12, file order), then 10 (k=0, in the 2nd file), 13, 14, 15
    assert seqs["1"] == ["11", "12", "10", "13", "14", "15"]
    assert seqs["2"] == ["10", "11", "12", "13", "14", "15"]
    assert dataset.provenance["positives"] == "is_click == 1"


def test_kcore_and_catalog_ignore_random_logs(tmp_path: Path) -> None:
    folder = tmp_path / "kuairand-pure"
    two_files(folder)
    # a user with too few clicks goes; the random-exposure log is not a standard log
    write_csv(folder / "log_standard_extra_pure.csv", [row(7, 10, 5, 1), row(7, 11, 6, 1)])
    write_csv(folder / "log_random_4_22_to_5_08_pure.csv", [row(8, 77, 1, 1)] * 10)
    dataset = load_dataset("kuairand-pure", tmp_path)
    assert dataset.counts() == {"users": 6, "items": 6, "interactions": 36}
    prov = dataset.provenance
    assert prov["variant"] == "raw" and prov["format"] == "kuairand"
    assert prov["k_core"] == 5 and prov["counts_before"]["users"] == 7
    assert sorted(Path(f["path"]).name for f in prov["files"]) == [
        "log_standard_4_08_to_4_21_pure.csv", "log_standard_4_22_to_5_08_pure.csv",
        "log_standard_extra_pure.csv"]


def test_missing_column_names_file_and_column(tmp_path: Path) -> None:
    columns = [c for c in SCHEMA if c != "time_ms"]
    path = write_csv(tmp_path / "log_standard_x.csv", [row(1, 2, 3, 1)], columns)
    with pytest.raises(DataError) as info:
        kuairand.read_log([path])
    message = str(info.value)
    assert "log_standard_x.csv" in message and "'time_ms'" in message
    assert "missing column" in message and info.value.key == "time_ms"


def test_bad_values_name_the_line(tmp_path: Path) -> None:
    rows = [row(1, 2, 3, 1), row(1, 2, 4, 1)]
    path = write_csv(tmp_path / "log_standard_y.csv", rows)
    text = path.read_text().splitlines()
    text[2] = text[2].replace("1,2,", "1,abc,", 1)  # data line 2 = file line 3
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(DataError, match=r"log_standard_y\.csv, line 3, key 'video_id'.*integers"):
        kuairand.read_log([path])
    clicks = write_csv(tmp_path / "log_standard_z.csv", [row(1, 2, 3, 1), row(1, 2, 4, 2)])
    with pytest.raises(DataError, match=r"line 3, key 'is_click': is_click must be 0 or 1"):
        kuairand.read_log([clicks])
    empty = tmp_path / "log_standard_empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="empty"):
        kuairand.read_log([empty])
    no_clicks = write_csv(tmp_path / "log_standard_n.csv", [row(1, 2, 3, 0)])
    with pytest.raises(DataError, match="no row has is_click == 1"):
        kuairand.read_log([no_clicks])
