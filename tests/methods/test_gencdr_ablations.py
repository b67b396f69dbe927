"""GenCDR's Table 3 ablations: each registered variant differs from GenCDR only in its switch,
and each switch removes exactly the part it names (tiny two-domain fits, smoke sizes)."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest
import torch

from genrec_bench.evaluation import Evaluator
from genrec_bench.recommender import HistoryBatch
from genrec_bench.registry import get_method
from methods import gencdr
from tests.methods.test_gencdr import fit_tiny

torch.set_num_threads(1)

SWITCHES = {
    "gencdr-wo-mtm": {"tokenizer.mtm_weight": 0.0},
    "gencdr-wo-item-adapter": {"tokenizer.item_adapters": False},
    "gencdr-wo-specific-expert": {"generator.specific_experts": False},
    "gencdr-wo-universal-experts": {"generator.train_universal_experts": False},
    "gencdr-wo-moe-gate": {"generator.user_router": "average"},
    "gencdr-wo-prefix-tree": {"prefix_tree": False},
}


def _flat(config) -> dict:
    """``{"field": v, "group.field": v}`` of a GenCDRConfig (one level of nesting)."""
    out = {}
    for key, value in asdict(config).items():
        if isinstance(value, dict):
            out.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            out[key] = value
    return out


@pytest.mark.parametrize("name", sorted(SWITCHES))
@pytest.mark.parametrize("profile", ["smoke", "cpu", "paper"])
def test_each_variant_differs_from_gencdr_only_in_its_switch(name, profile):
    full = _flat(get_method("gencdr").make_config(profile))
    variant = _flat(get_method(name).make_config(profile))
    assert {k: variant[k] for k in full if full[k] != variant[k]} == SWITCHES[name]


def _fit(name: str):
    return fit_tiny(name, (("a", 40, 20), ("b", 30, 12)))


def _stages(report) -> list[str]:
    return [e["stage"] for e in report.epochs]


def test_without_item_adapters_items_keep_their_universal_codes():
    model, _, _ = _fit("gencdr-wo-item-adapter")
    diagnostics = model.ids.diagnostics
    assert diagnostics["universal_codes_changed_by_adapters"] == 0.0
    assert diagnostics["adapter_training"] == [] and not hasattr(model, "tokenizer")


def test_without_mtm_the_rqvae_logs_no_mtm_term():
    full, _, _ = _fit("gencdr")
    ablated, _, _ = _fit("gencdr-wo-mtm")
    assert "mtm" in full.ids.diagnostics["training"][0]
    assert "mtm" not in ablated.ids.diagnostics["training"][0]


def test_without_specific_experts_no_domain_stage_no_router_and_gamma_zero():
    model, splits, report = _fit("gencdr-wo-specific-expert")
    assert _stages(report) == ["base", "universal"]
    assert model.user_router is None
    seq = splits.test.histories.select(np.arange(3))
    assert torch.equal(model.gamma(seq, 0), torch.zeros(3))
    # the domain adapters were never trained: still peft's zero initialisation
    for d in range(2):
        b = [p for n, p in model.lm.named_parameters() if f".{gencdr.adapter_name(d)}." in n and "lora_B" in n]
        assert b and all(torch.count_nonzero(p) == 0 for p in b)


def test_without_universal_experts_phase_one_is_skipped_and_experts_stay_zero():
    model, _, report = _fit("gencdr-wo-universal-experts")
    assert _stages(report) == ["base", "domain:a", "domain:b", "router"]
    for name in model.experts:
        b = [p for n, p in model.lm.named_parameters() if f".{name}." in n and "lora_B" in n]
        assert b and all(torch.count_nonzero(p) == 0 for p in b)


def test_averaging_gate_uses_one_half_and_trains_no_router():
    model, splits, report = _fit("gencdr-wo-moe-gate")
    assert "router" not in _stages(report) and model.user_router is None
    seq = splits.test.histories.select(np.arange(4))
    assert torch.equal(model.gamma(seq, 1), torch.full((4,), 0.5))


def test_without_prefix_tree_beams_are_unconstrained_and_empty_slots_are_counted():
    model, splits, _ = _fit("gencdr-wo-prefix-tree")
    test = splits.test
    top = model.recommend(HistoryBatch(users=test.users, sequences=test.histories), 20)
    items = top.items.numpy()
    item_domain, user_domain = splits.dataset.item_domain, splits.dataset.user_domain
    own = item_domain[items] == user_domain[test.users][:, None]
    # 20 beams over a vocabulary of 2 x 16 x 16 x dedup codes for 32 items: an unconstrained search
    # returns IDs that are no item (0) or items of the other domain
    assert ((items == 0) | ~own).any()
    result = Evaluator(n_items=splits.n_items).evaluate(model, test)
    assert result.empty_slots is not None
    # the evaluator decodes the same users in other chunks: the same lists, the same empty slots
    assert np.array_equal(result.empty_slots, (items == 0).sum(1))
    summary = result.list_summary()
    assert summary["empty_slot_rate"] == pytest.approx(float(result.empty_slots.mean() / 20))
    assert summary["empty_slot_rate"] > 0
