"""Generated tables read the same on every machine: captions name the data root as the user
gave it, never the absolute folder of the machine that rendered them (issues 19.7, 20.3, 20.4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runners import table1, table2

REPO = Path(__file__).resolve().parents[2]


def render(main, tmp_path: Path, name: str, data_root: Path, monkeypatch, argv: list[str]) -> dict[str, bytes]:
    """Render with ``$GENREC_DATA`` = ``data_root`` into a fresh results folder over the committed runs."""
    results = tmp_path / name
    results.mkdir()
    (results / "runs").symlink_to(REPO / "results" / "runs")
    monkeypatch.setenv("GENREC_DATA", str(data_root))
    assert main(["--results-dir", str(results), *argv]) == 0
    return {p.name: p.read_bytes() for p in sorted((results / "tables").iterdir())}


@pytest.mark.parametrize(("main", "argv"), [
    (table1.main, ["--datasets", "amazon2014-beauty", "kuairand-1k", "--methods", "popularity", "sasrec"]),
    (table2.main, []),
], ids=["table1", "table2"])
def test_tables_are_byte_identical_under_two_data_root_paths(main, argv, tmp_path, real_data_root, monkeypatch,
                                                             capsys):
    roots = [tmp_path / "machine-a" / "data", tmp_path / "another" / "place" / "data"]
    for root in roots:
        root.parent.mkdir(parents=True)
        root.symlink_to(real_data_root)
    first = render(main, tmp_path, "a", roots[0], monkeypatch, argv)
    second = render(main, tmp_path, "b", roots[1], monkeypatch, argv)
    assert first == second and len(first) == 3
    text = b"".join(first.values()).decode()
    assert str(tmp_path) not in text and str(real_data_root) not in text
    capsys.readouterr()


def test_the_data_absent_hint_names_the_root_and_downloads_into_it(tmp_path, monkeypatch):
    monkeypatch.setenv("GENREC_DATA", str(tmp_path))
    hint = table1.dataset_status("kuairand-1k", None)
    assert "data absent" in hint and "$GENREC_DATA" in hint and "--data-root" in hint
    assert '`python -m genrec_bench.data.download kuairand-1k --data-root "$GENREC_DATA"`' in hint
    assert str(tmp_path) not in hint
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my" / "data").mkdir(parents=True)
    given = table1.dataset_status("kuairand-1k", "my/data")
    assert "under the data root my/data" in given and "download kuairand-1k --data-root my/data`" in given


def test_the_downloader_defaults_to_the_root_the_tables_read(tmp_path, monkeypatch):
    """Without --data-root, files go where $GENREC_DATA points (not datasets/cache)."""
    from genrec_bench.data import download

    fetched = []
    monkeypatch.setattr(download, "fetch_variant", lambda variant, folder: fetched.append(folder))
    monkeypatch.setenv("GENREC_DATA", str(tmp_path))
    assert download.main(["amazon2014-beauty"]) == 0
    assert fetched == [tmp_path / "amazon2014-beauty"]
