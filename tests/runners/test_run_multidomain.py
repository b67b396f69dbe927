"""``runners.run`` on a multi-domain dataset writes per-domain metrics (synthetic data)."""

from __future__ import annotations

import json

import numpy as np

from genrec_bench.data.multidomain import merge_domains
from genrec_bench.data.types import SequenceDataset, Sequences
from genrec_bench.evaluation.metrics import METRICS
from genrec_bench.experiment import api
from runners import run

NAMES = ("amazon2014-beauty", "amazon2014-sports")


def _domain(name: str, n_users: int, n_items: int, seed: int) -> SequenceDataset:
    rng = np.random.default_rng(seed)
    seqs = [rng.integers(1, n_items + 1, size=rng.integers(3, 8)).tolist() for _ in range(n_users)]
    return SequenceDataset(name=name, sequences=Sequences.from_lists(seqs),
                           user_ids=np.array([f"u{u}" for u in range(n_users)]),
                           item_ids=np.array(["<pad>"] + [f"i{i}" for i in range(1, n_items + 1)]))


def test_multi_domain_record_has_per_domain_metrics(tmp_path, monkeypatch, capsys):
    merged = merge_domains([_domain(NAMES[0], 60, 20, 0), _domain(NAMES[1], 40, 12, 1)])
    monkeypatch.setattr(api, "load_dataset", lambda name, root: merged)   # the run itself is genrec_bench.run
    monkeypatch.setattr(api, "resolve_data_root", lambda value: tmp_path)
    code = run.main(["--method", "popularity", "--dataset", "+".join(NAMES), "--profile", "smoke",
                     "--results-dir", str(tmp_path), "--no-progress"])
    assert code == 0
    assert "test: amazon2014-sports (40 users)" in capsys.readouterr().out
    (path,) = tmp_path.glob("runs/*/popularity/*/record.json")
    record = json.loads(path.read_text())
    by_domain = record["metrics"]["test_by_domain"]
    assert list(by_domain) == list(NAMES)
    assert [by_domain[n]["users"] for n in NAMES] == [60, 40]
    with np.load(path.parent / "per_user.npz") as data:
        ranks = data["test_ranks"]
    for d, name in enumerate(NAMES):
        alone = ranks[merged.user_domain == d]
        assert by_domain[name]["ndcg@10"] == METRICS["ndcg"](alone, 10).mean()
    assert record["metrics"]["test"]["ndcg@10"] == METRICS["ndcg"](ranks, 10).mean()
    assert "valid_by_domain" in record["metrics"]
    # a multi-domain run ranks each user's own domain only, and says so
    assert record["evaluation"]["candidates"] == "user-domain"
    assert "user's own domain" in record["evaluation"]["protocol"]


def test_a_bad_part_fails_with_the_valid_choices(tmp_path, capsys):
    assert run.main(["--method", "popularity", "--dataset", "amazon2014-beauty+sports",
                     "--results-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown dataset 'sports'" in err and "valid datasets: amazon2014-beauty" in err
