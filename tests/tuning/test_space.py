"""Search-space files: every mistake is one line naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from genrec_bench.errors import ConfigError
from genrec_bench.tuning import CategoricalParam, FloatParam, IntParam, read_space, shipped_space

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path, text):
    path = tmp_path / "space.toml"
    path.write_text(text)
    return path


def test_kinds_are_read_from_the_bounds():
    space = read_space(ROOT / "baselines" / "spaces" / "sasrec.toml")
    kinds = {p.name: type(p) for p in space.params}
    assert kinds == {"lr": FloatParam, "dropout": FloatParam, "hidden_size": CategoricalParam,
                     "max_len": CategoricalParam}
    assert space.metric == "ndcg@10"
    assert next(p for p in space.params if p.name == "lr").log


def test_int_range_and_nested_keys(tmp_path):
    space = read_space(write(tmp_path, "[params.n_layers]\nlow = 1\nhigh = 3\n"
                                       "[params.training.lr]\nlow = 1e-4\nhigh = 1e-2\nlog = true\n"))
    assert space.params == (IntParam("n_layers", 1, 3, 1), FloatParam("training.lr", 1e-4, 1e-2, True))


@pytest.mark.parametrize("text, message", [
    ("[params.lr\nlow = 1", "not valid TOML"),
    ("[objective]\nmetric = 'ndcg@10'\n", "at least one"),
    ("[params.lr]\nlow = 1e-2\nhigh = 1e-4\n", "low < high"),
    ("[params.lr]\nlow = 1e-4\n", "needs low and high"),
    ("[params.lr]\nlow = 0.0\nhigh = 1.0\nlog = true\n", "low > 0"),
    ("[params.n]\nlow = 1\nhigh = 4\nlog = true\n", "log applies to float"),
    ("[params.n]\nchoices = []\n", "non-empty list"),
    ("[params.n]\nchoices = [1, 1]\n", "duplicates"),
    ("[objective]\nmetric = 'ndgc@10'\n[params.n]\nchoices = [1]\n", "unknown metric"),
    ("[objectives]\n[params.n]\nchoices = [1]\n", "unknown top-level"),
    ("[params.lr]\nlow = 'a'\nhigh = 1.0\n", "must be numbers"),
])
def test_mistakes_name_the_file_and_what_is_wrong(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as error:
        read_space(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        read_space(tmp_path / "nope.toml")


def test_sasrec_and_bert4rec_ship_spaces_that_fit_their_configs():
    from genrec_bench.registry import get_method

    for method in ("sasrec", "bert4rec"):
        space = read_space(shipped_space(method))
        spec = get_method(method)
        for overrides in space.candidates():
            spec.make_config("cpu", overrides)
        assert {"lr", "dropout", "hidden_size", "max_len"} == {p.name for p in space.params}


def test_a_method_without_a_shipped_space_says_to_give_one():
    with pytest.raises(ConfigError, match="--space"):
        shipped_space("popularity")
