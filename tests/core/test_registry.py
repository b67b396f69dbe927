from dataclasses import dataclass
from importlib.metadata import EntryPoint

import pytest

from genrec_bench import registry
from genrec_bench.errors import ConfigError, UnknownNameError
from genrec_bench.recommender import Recommender


def test_builtin_methods_are_registered():
    assert {"popularity", "sasrec", "bert4rec"} <= set(registry.method_names())


def test_unknown_method_lists_the_valid_names():
    with pytest.raises(UnknownNameError) as info:
        registry.get_method("sasrek")
    assert "sasrec" in str(info.value) and "bert4rec" in str(info.value)


def test_unknown_profile_lists_the_valid_profiles():
    with pytest.raises(UnknownNameError, match="smoke"):
        registry.get_method("sasrec").make_config("laptop")


def test_overrides_are_typed_and_checked():
    spec = registry.get_method("sasrec")
    cfg = spec.make_config("cpu", {"max_epochs": "3", "dropout": "0.25"})
    assert cfg.max_epochs == 3 and cfg.dropout == 0.25
    with pytest.raises(ConfigError, match="unknown config key 'max_epoch'"):
        spec.make_config("cpu", {"max_epoch": "3"})
    with pytest.raises(ConfigError, match="expects int"):
        spec.make_config("cpu", {"max_epochs": "three"})
    with pytest.raises(ConfigError, match="dropout must be in"):
        spec.make_config("cpu", {"dropout": "1.5"})
    with pytest.raises(ConfigError, match="not divisible"):
        spec.make_config("cpu", {"n_heads": "3"})


def test_duplicate_names_are_refused():
    @dataclass(frozen=True)
    class C:
        pass

    with pytest.raises(ConfigError, match="registered twice"):
        @registry.register_method("sasrec", config=C, profiles={"smoke": C()})
        class Impostor(Recommender):
            pass


def test_a_method_in_another_package_is_found_through_its_entry_point(monkeypatch):
    fake = EntryPoint(name="external-popularity", group=registry.ENTRY_POINT_GROUP,
                      value="tests.core.plugin_example.external_method")
    monkeypatch.setattr(registry, "entry_points", lambda group: [fake] if group == registry.ENTRY_POINT_GROUP else [])
    monkeypatch.setattr(registry, "_loaded", False)
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # leave no trace
    spec = registry.get_method("external-popularity")
    assert spec.make_config("cpu").width == 5


def test_a_float_field_written_as_an_int_in_a_profile_takes_floats():
    """CPU_GENERATOR_TRAINING writes time_budget_s = 75 * 60 (an int) in a float field:
    --set and typed overrides must still accept a float there."""
    from genrec_bench.registry import get_method

    spec = get_method("tiger")
    assert isinstance(spec.profiles["cpu"].training.time_budget_s, int)
    assert spec.make_config("cpu", {"training.time_budget_s": 1200.0}).training.time_budget_s == 1200.0
    assert spec.make_config("cpu", {"training.time_budget_s": "1200.5"}).training.time_budget_s == 1200.5
    assert spec.make_config("cpu", {"training.time_budget_s": 600}).training.time_budget_s == 600
