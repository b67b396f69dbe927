"""Multi-domain datasets (``a+b``): merging, ids, text, names, splits and per-domain metrics."""

from __future__ import annotations

import numpy as np
import pytest

from genrec_bench.data.catalog import check_dataset_name, load_dataset
from genrec_bench.data.multidomain import merge_domains, split_dataset_name
from genrec_bench.data.split import leave_last_out
from genrec_bench.data.types import ItemAttributes, ItemText, SequenceDataset, Sequences
from genrec_bench.errors import ConfigError, UnknownNameError
from genrec_bench.evaluation import EvalResult
from genrec_bench.evaluation.breakdown import domain_breakdown
from genrec_bench.evaluation.metrics import METRICS


def _domain(name: str, n_users: int, n_items: int, seed: int, *, text: str | None = "title",
            proxy: bool = False) -> SequenceDataset:
    rng = np.random.default_rng(seed)
    seqs = [rng.integers(1, n_items + 1, size=rng.integers(3, 9)).tolist() for _ in range(n_users)]
    seqs[0] = list(range(1, n_items + 1))  # every item occurs
    item_text = None if text is None else ItemText(
        fields={text: [""] + [f"{name} item {i}" for i in range(1, n_items + 1)]},
        is_proxy=proxy, description=f"text of {name}")
    # the same raw user ids ("u0", "u1", ...) and item ids in both domains on purpose
    return SequenceDataset(name=name, sequences=Sequences.from_lists(seqs),
                           user_ids=np.array([f"u{u}" for u in range(n_users)]),
                           item_ids=np.array(["<pad>"] + [f"i{i}" for i in range(1, n_items + 1)]),
                           item_text=item_text, provenance={"source": f"synthetic {name}"})


@pytest.fixture
def parts() -> list[SequenceDataset]:
    return [_domain("alpha", 40, 15, 0), _domain("beta", 25, 9, 1, text="brand", proxy=True)]


def test_merged_counts_are_the_sum_of_the_parts(parts):
    merged = merge_domains(parts)
    assert merged.name == "alpha+beta" and merged.domains == ("alpha", "beta")
    for key in ("users", "items", "interactions"):
        assert merged.counts()[key] == sum(p.counts()[key] for p in parts)
    assert merged.is_multi_domain
    assert merged.provenance["domain_counts"] == {p.name: p.counts() for p in parts}


def test_no_user_or_item_id_is_shared(parts):
    merged = merge_domains(parts)
    assert len(set(merged.user_ids.tolist())) == merged.n_users
    assert len(set(merged.item_ids.tolist())) == merged.n_items + 1
    assert merged.user_ids[0] == "alpha:u0" and merged.user_ids[40] == "beta:u0"
    assert merged.item_ids[0] == "<pad>" and merged.item_ids[16] == "beta:i1"


def test_domain_arrays_and_sequences_stay_in_their_domain(parts):
    merged = merge_domains(parts)
    assert merged.item_domain.tolist() == [-1] + [0] * 15 + [1] * 9
    assert merged.user_domain.tolist() == [0] * 40 + [1] * 25
    for u in range(merged.n_users):
        d = merged.user_domain[u]
        assert (merged.item_domain[merged.sequences[u]] == d).all()
        original = parts[d].sequences[u - (0 if d == 0 else 40)]
        assert (merged.sequences[u] == original + (0 if d == 0 else 15)).all()
    splits = leave_last_out(merged)
    for split in (splits.valid, splits.test):
        assert (merged.item_domain[split.targets] == merged.user_domain[split.users]).all()


def test_text_is_the_union_of_fields_and_proxy_if_any(parts):
    text = merge_domains(parts).item_text
    assert set(text.fields) == {"title", "brand"} and text.is_proxy
    assert text.fields["title"][1] == "alpha item 1" and text.fields["title"][16] == ""
    assert text.fields["brand"][16] == "beta item 1" and text.fields["brand"][1] == ""
    assert all(len(col) == 25 for col in text.fields.values())
    assert "alpha" in text.description and "beta" in text.description
    no_text = merge_domains([parts[0], _domain("gamma", 5, 4, 2, text=None)])
    assert no_text.item_text is None


def test_attribute_codes_stay_apart_across_domains(parts):
    def with_codes(part, codes):
        table = ItemAttributes(codes=Sequences.from_lists([[]] + codes), n_attributes=3, description="codes")
        return SequenceDataset(**{**part.__dict__, "item_attributes": table})
    a = with_codes(parts[0], [[1, 2]] * parts[0].n_items)
    b = with_codes(parts[1], [[1]] + [[3]] * (parts[1].n_items - 1))
    merged = merge_domains([a, b], "alpha+beta").item_attributes
    assert merged is not None and merged.n_attributes == 6
    hot = merged.multi_hot()
    assert hot.shape == (1 + a.n_items + b.n_items, 6)
    assert hot[1].tolist() == [1, 1, 0, 0, 0, 0] and hot[a.n_items + 1].tolist() == [0, 0, 0, 1, 0, 0]
    assert hot[-1].tolist() == [0, 0, 0, 0, 0, 1]
    assert merge_domains([a, parts[1]], "alpha+beta").item_attributes is None


def test_per_domain_metrics_equal_each_domain_alone(parts):
    merged = merge_domains(parts)
    n = merged.n_users
    rng = np.random.default_rng(3)
    ranks = rng.integers(1, 30, size=n)
    users = rng.permutation(n)  # results in any user order
    result = EvalResult(users=users, targets=np.ones(n, dtype=np.int64), ranks=ranks[users],
                        tied=np.zeros(n, dtype=bool), ranking="full", cutoff=None)
    metrics = ["recall@5", "ndcg@10", "mrr@20"]
    out = domain_breakdown(result, merged.user_domain, merged.domains, metrics)
    assert out["alpha"]["users"] == 40 and out["beta"]["users"] == 25
    for d, name in enumerate(merged.domains):
        alone = ranks[merged.user_domain == d]
        for m in metrics:
            metric, k = m.split("@")
            assert out[name][m] == METRICS[metric](alone, int(k)).mean()
    # the overall mean is still the mean over every user, not the mean of domain means
    overall = result.mean("recall@5")
    assert overall == METRICS["recall"](ranks, 5).mean()


def test_names_are_checked_part_by_part():
    assert split_dataset_name("a+b") == ["a", "b"]
    assert check_dataset_name("amazon2014-beauty") == ["amazon2014-beauty"]
    assert check_dataset_name("amazon2014-beauty+amazon2014-sports") == [
        "amazon2014-beauty", "amazon2014-sports"]
    with pytest.raises(UnknownNameError, match=r"unknown dataset 'beauty'.*multi-domain"):
        check_dataset_name("amazon2014-sports+beauty")
    with pytest.raises(UnknownNameError, match=r"unknown dataset '<empty>'"):
        check_dataset_name("amazon2014-sports+")
    with pytest.raises(ConfigError, match="more than once"):
        check_dataset_name("amazon2014-sports+amazon2014-sports")
    with pytest.raises(UnknownNameError, match="valid datasets: amazon2014-beauty"):
        load_dataset("amazon2014-beauty+nope")


def test_real_beauty_plus_sports(data_root):
    if not (data_root / "amazon2014-sports").is_dir():
        pytest.skip("Sports data absent")
    merged = load_dataset("amazon2014-beauty+amazon2014-sports", data_root)
    assert merged.counts() == {"users": 22363 + 35598, "items": 12101 + 18357,
                               "interactions": 198502 + 296337}
    assert len(np.unique(merged.item_ids)) == merged.n_items + 1
    assert np.bincount(merged.user_domain).tolist() == [22363, 35598]
    assert merged.item_text is not None and merged.item_text.is_proxy
