"""Which records tables show: the newest configuration, newest record per seed, never a mix."""

import logging

import pytest

from genrec_bench.records.selection import config_id, current_runs


def record(seed: int, config: str, finished: str, *, method: str = "tiger") -> dict:
    return {"dataset": "beauty", "method": method, "profile": "cpu", "seed": seed,
            "run_id": f"cpu-seed{seed}-{config}", "finished_at": finished}


def test_config_id_is_the_run_ids_hash():
    assert config_id(record(0, "ca5dd4f726", "t")) == "ca5dd4f726"


def test_seeds_of_a_superseded_configuration_are_never_mixed_in(caplog):
    old = [record(0, "aaa", "2026-01-01"), record(1, "aaa", "2026-01-02"), record(2, "aaa", "2026-01-03")]
    new = [record(0, "bbb", "2026-02-01")]
    with caplog.at_level(logging.INFO, logger="genrec_bench.records.selection"):
        runs = current_runs(old + new)
    assert [(r["seed"], config_id(r)) for r in runs] == [(0, "bbb")]
    assert "superseded" in caplog.text and "cpu-seed1-aaa" in caplog.text


def test_newest_record_per_seed_sorted_by_seed():
    runs = current_runs([record(1, "c", "2026-01-05"), record(0, "c", "2026-01-01"), record(0, "c", "2026-01-09")])
    assert [(r["seed"], r["finished_at"]) for r in runs] == [(0, "2026-01-09"), (1, "2026-01-05")]


def test_seed_filter_applies_before_the_configuration_is_chosen():
    records = [record(0, "old", "2026-01-01"), record(1, "old", "2026-01-02"), record(0, "new", "2026-02-01")]
    assert [config_id(r) for r in current_runs(records, seeds=[1])] == ["old"]
    assert current_runs(records, seeds=[5]) == []


def test_records_of_several_methods_are_refused():
    with pytest.raises(ValueError, match="one \\(dataset, method, profile\\)"):
        current_runs([record(0, "a", "t"), record(0, "a", "t", method="sasrec")])
