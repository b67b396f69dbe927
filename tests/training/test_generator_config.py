"""One generator-training config for every semantic-ID method: held as ``training``, reached
with dotted ``--set`` paths, validated once."""

import dataclasses

import pytest

from genrec_bench.errors import ConfigError
from genrec_bench.registry import get_method
from genrec_bench.training.generator_config import (
    CPU_GENERATOR_TRAINING,
    GeneratorTrainingConfig,
    selection_metric_of,
)

GENERATIVE = ("tiger", "letter", "etegrec", "flexcode", "flexcode-fix", "letter-no-cf", "etegrec-no-sia")
SHARED_FIELDS = ("max_history", "training_prefixes", "lr", "lr_schedule", "warmup_epochs", "weight_decay",
                 "batch_size", "grad_clip", "max_epochs", "patience", "eval_every", "time_budget_s",
                 "beam_width", "selection_metric")


@pytest.mark.parametrize("method", GENERATIVE)
def test_every_generative_method_holds_the_shared_config_and_no_copy_of_its_fields(method):
    spec = get_method(method)
    for profile in ("smoke", "cpu", "paper"):
        config = spec.make_config(profile)
        assert isinstance(config.training, GeneratorTrainingConfig)
        own = {f.name for f in dataclasses.fields(config)}
        assert not own & set(SHARED_FIELDS), f"{method} repeats {sorted(own & set(SHARED_FIELDS))}"


@pytest.mark.parametrize("method", ["tiger", "letter", "flexcode"])
def test_the_cpu_profiles_share_one_recipe(method):
    assert get_method(method).make_config("cpu").training == CPU_GENERATOR_TRAINING


def test_dotted_set_paths_reach_the_shared_config_with_types_checked():
    spec = get_method("tiger")
    config = spec.make_config("cpu", {"training.lr": "2e-3", "training.validation_users": "1024"})
    assert config.training.lr == 2e-3 and config.training.validation_users == 1024
    assert config.training.max_epochs == CPU_GENERATOR_TRAINING.max_epochs
    with pytest.raises(ConfigError, match="unknown config key 'lr'"):
        spec.make_config("cpu", {"lr": "2e-3"})              # the old flat path names the valid keys
    with pytest.raises(ConfigError, match="expects int"):
        spec.make_config("cpu", {"training.batch_size": "many"})


@pytest.mark.parametrize("bad, message", [
    ({"training_prefixes": "some"}, "training_prefixes"),
    ({"lr_schedule": "linear"}, "lr_schedule"),
    ({"lr": 0.0}, "lr"),
    ({"batch_size": 0}, "batch_size"),
    ({"validation_users": -1}, "validation_users"),
    ({"warmup_epochs": 5, "max_epochs": 5}, "warmup_epochs"),
    ({"selection_metric": "ndcg"}, "selection_metric"),
    ({"selection_metric": "foo@10"}, "selection_metric"),
    ({"time_budget_s": -1.0}, "time_budget_s"),
])
def test_invalid_values_name_the_field(bad, message):
    with pytest.raises(ConfigError, match=message):
        GeneratorTrainingConfig(**bad)


def test_selection_metric_is_read_from_the_shared_config_or_the_methods_own_field():
    tiger = get_method("tiger").make_config("cpu", {"training.selection_metric": "recall@10"})
    assert selection_metric_of(tiger) == "recall@10"
    assert selection_metric_of(get_method("sasrec").make_config("cpu")) == "ndcg@10"
    assert selection_metric_of(object()) == "ndcg@10"
