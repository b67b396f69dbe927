"""Property-based malformed configs: any override of any method's config either yields a
valid config or the suite's ConfigError naming the key; nothing else escapes."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from genrec_bench import registry
from genrec_bench.errors import ConfigError

METHODS = registry.method_names()
values = st.sampled_from(["0", "-1", "1", "3", "0.5", "1.5", "1e-3", "nan", "inf", "true", "abc", "", "rqvae", "all"])


def keys_of(config, prefix: str = "") -> list[str]:
    out = []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        out += keys_of(value, f"{prefix}{f.name}.") if dataclasses.is_dataclass(value) else [prefix + f.name]
    return out


@settings(max_examples=150, deadline=None, derandomize=True)
@given(method=st.sampled_from(METHODS), data=st.data())
def test_overrides_give_a_valid_config_or_a_config_error(method, data):
    spec = registry.get_method(method)
    known = keys_of(spec.profiles["smoke"])
    keys = data.draw(st.lists(st.sampled_from(known) | st.sampled_from(["bogus", "lr.x", "generator.bogus"]),
                              min_size=1, max_size=3, unique=True))
    overrides = {k: data.draw(values) for k in keys}
    try:
        config = spec.make_config("smoke", overrides)
    except ConfigError as error:
        assert any(k.split(".")[-1] in str(error) or k.split(".")[0] in str(error) for k in keys), error
    else:
        assert isinstance(config, spec.config)
