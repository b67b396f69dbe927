"""runners.table2: per-domain cells from multi-domain records, paper numbers, absent domains."""

from __future__ import annotations

import json

import numpy as np

from genrec_bench.data.multidomain import merge_domains
from genrec_bench.data.types import SequenceDataset, Sequences
from genrec_bench.experiment import api
from runners import run, table2

PAIR = "amazon2014-beauty+amazon2014-sports"


def _domain(name: str, n_users: int, n_items: int, seed: int) -> SequenceDataset:
    rng = np.random.default_rng(seed)
    seqs = [rng.integers(1, n_items + 1, size=rng.integers(3, 8)).tolist() for _ in range(n_users)]
    return SequenceDataset(name=name, sequences=Sequences.from_lists(seqs),
                           user_ids=np.array([f"u{u}" for u in range(n_users)]),
                           item_ids=np.array(["<pad>"] + [f"i{i}" for i in range(1, n_items + 1)]))


def test_table2_shows_per_domain_cells_and_how_to_get_absent_domains(tmp_path, monkeypatch, capsys):
    merged = merge_domains([_domain("amazon2014-beauty", 50, 8, 0), _domain("amazon2014-sports", 30, 6, 1)])
    monkeypatch.setattr(api, "load_dataset", lambda name, root: merged)   # the run itself is genrec_bench.run
    monkeypatch.setattr(api, "resolve_data_root", lambda value: tmp_path)
    assert run.main(["--method", "popularity", "--dataset", PAIR, "--profile", "smoke",
                     "--results-dir", str(tmp_path), "--no-progress"]) == 0
    (path,) = tmp_path.glob("runs/*/popularity/*/record.json")
    by_domain = json.loads(path.read_text())["metrics"]["test_by_domain"]
    capsys.readouterr()
    assert table2.main(["--profile", "smoke", "--results-dir", str(tmp_path), "--data-root", str(tmp_path),
                        "--domains", "amazon2014-sports", "amazon2014-clothing", "--pairs", PAIR]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| popularity"))
    assert f"{by_domain['amazon2014-sports']['recall@10']:.4f}" in row
    gencdr = next(line for line in out.splitlines() if line.startswith("| GenCDR"))
    assert "(reported only)" in gencdr and "[0.0274]" in gencdr and "[0.0181]" in gencdr
    assert "python -m genrec_bench.data.download amazon2014-clothing" in out
    for suffix in ("md", "tex", "csv"):
        assert (tmp_path / "tables" / f"table2.{suffix}").stat().st_size > 0
