"""``python -m runners.rescore``: a record re-scored from its stored top-K lists equals a fresh
evaluation under the new settings, goes to its own run directory and says it was re-scored."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from genrec_bench.data.split import leave_last_out
from genrec_bench.evaluation import EvalConfig, Evaluator
from genrec_bench.recommender import FitReport, Recommender, TopK
from genrec_bench.records import RunRecord
from genrec_bench.records.record import PER_USER_FILE
from runners import rescore
from tests.conftest import cyclic_dataset


class HolesAndHistory(Recommender):
    """A decoder stand-in: each list is the next 20 items of the cycle after the user's last
    item (the target first), with every third slot an ID that is no item and a score tie."""

    name = "holes"

    def __init__(self, n_items: int):
        super().__init__(None)
        self.n_items = n_items

    def fit(self, splits, validator=None):
        return FitReport()

    def recommend(self, histories, k) -> TopK:
        last = torch.from_numpy(histories.sequences.last())
        # starts 2 items back: the list holds history items before the target
        items = (last.unsqueeze(1) - 2 + torch.arange(k)) % self.n_items + 1
        slot = torch.arange(k).expand_as(items)
        items = torch.where(slot % 3 == 1, torch.zeros_like(items), items)
        scores = -(slot // 2).float()                                    # pairs of slots tie
        return TopK(items=items, scores=scores)


@pytest.fixture()
def original(tmp_path, monkeypatch):
    dataset = cyclic_dataset(n_users=60, n_items=30)
    splits = leave_last_out(dataset)
    monkeypatch.setattr(rescore, "load_splits", lambda name, root: (dataset, splits))
    evaluator = Evaluator(EvalConfig(batch_size=16), n_items=splits.n_items)
    model = HolesAndHistory(splits.n_items)
    results = {"valid": evaluator.evaluate(model, splits.valid), "test": evaluator.evaluate(model, splits.test)}
    names = list(evaluator.config.metrics)
    record = RunRecord(method="holes", dataset="cyclic", profile="smoke", seed=0, config={"a": 1},
                       evaluation=evaluator.settings(), data={"counts": dataset.counts()}, environment={},
                       metrics={s: r.metrics(names) for s, r in results.items()}, run_id="smoke-seed0-0123456789",
                       finished_at="2026-01-01T00:00:00+00:00")
    directory = tmp_path / "runs" / "cyclic" / "holes" / record.run_id
    record.write(directory, results)
    return directory, splits, model


def test_rescored_record_equals_a_fresh_evaluation_and_is_a_new_run(original):
    directory, splits, model = original
    assert rescore.main([str(directory), "--invalid-slots", "skip", "--mask-history"]) == 0
    (path,) = [p for p in directory.parent.glob("*/record.json") if p.parent != directory]
    record = json.loads(path.read_text())
    assert record["run_id"] != directory.name and record["run_id"].startswith("smoke-seed0-")
    assert record["evaluation"]["invalid_slots"] == "skip" and record["evaluation"]["mask_history"] is True
    assert any("re-scored from the stored top-20 lists of run smoke-seed0-0123456789" in n for n in record["notes"])
    assert any("filtered, not refilled" in n for n in record["notes"])
    fresh = Evaluator(EvalConfig(batch_size=16, invalid_slots="skip", mask_history=True), n_items=splits.n_items)
    for split in ("valid", "test"):
        expected = fresh.evaluate(model, getattr(splits, split))
        with np.load(path.parent / PER_USER_FILE) as data:
            np.testing.assert_array_equal(data[f"{split}_ranks"], expected.ranks)
            assert data[f"{split}_lists"].shape == (60, 20)              # the new record is re-scorable too
        assert record["metrics"][split]["ndcg@10"] == expected.mean("ndcg@10")
    with np.load(directory / PER_USER_FILE) as data:                      # the settings changed the ranks
        assert not np.array_equal(data["test_ranks"], fresh.evaluate(model, splits.test).ranks)


def test_records_without_lists_and_impossible_settings_are_refused(original, capsys):
    directory, _, _ = original
    assert rescore.main([str(directory)]) == 2
    assert "nothing to re-score" in capsys.readouterr().err
    assert rescore.main([str(directory), "--mask-history", "--results-dir", str(directory.parents[3])]) == 0
    (masked,) = [p.parent for p in directory.parent.glob("*/record.json") if p.parent != directory]
    assert rescore.main([str(masked), "--no-mask-history"]) == 2
    assert "cannot be re-scored without masking" in capsys.readouterr().err
    with np.load(directory / PER_USER_FILE) as data:
        kept = {k: data[k] for k in data.files if "list" not in k}
    np.savez(directory / PER_USER_FILE, **kept)
    assert rescore.main([str(directory), "--invalid-slots", "skip"]) == 2
    assert "keeps no top-K lists" in capsys.readouterr().err
