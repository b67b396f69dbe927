"""One registry of methods: a decorator for the suite's own, entry points for everyone else.

A method module declares itself once::

    @register_method("popularity", config=PopularityConfig, profiles=PROFILES)
    class Popularity(Recommender): ...

A method in another installed package is found without editing the suite by declaring an
entry point in its own ``pyproject.toml``::

    [project.entry-points."genrec_bench.methods"]
    mymethod = "my_package.my_module"

Importing that module runs its ``@register_method`` decorator.
"""

from __future__ import annotations

import dataclasses
import importlib
import typing
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from genrec_bench.errors import ConfigError, UnknownNameError

ENTRY_POINT_GROUP = "genrec_bench.methods"
#: the suite's own method modules, imported on first lookup
BUILTIN_MODULES = (
    "baselines.popularity",
    "baselines.sasrec",
    "baselines.bert4rec",
    "methods.tiger",
    "methods.letter",
    "methods.etegrec",
    "methods.flexcode",
    "methods.gencdr",
)
PROFILE_NAMES = ("smoke", "cpu", "paper")


@dataclass(frozen=True)
class MethodSpec:
    """A registered method: its class, its config dataclass and its named profiles."""

    name: str
    recommender: type
    config: type
    profiles: dict[str, Any]

    def make_config(self, profile: str, overrides: dict[str, Any] | None = None) -> Any:
        """The profile's config with ``overrides`` applied (names and types checked)."""
        if profile not in self.profiles:
            raise UnknownNameError("profile", profile, list(self.profiles))
        config = self.profiles[profile]
        if overrides:
            config = apply_overrides(config, overrides, where=f"method {self.name!r}")
        return config


_REGISTRY: dict[str, MethodSpec] = {}
_loaded = False


def register_method(name: str, *, config: type, profiles: dict[str, Any]):
    """Class decorator: register ``cls`` under ``name``. A duplicate name is an error."""

    def decorate(cls: type) -> type:
        if name in _REGISTRY and _REGISTRY[name].recommender is not cls:
            raise ConfigError(f"method name {name!r} is registered twice "
                              f"({_REGISTRY[name].recommender.__module__} and {cls.__module__})")
        missing = [p for p in profiles if p not in PROFILE_NAMES]
        if missing:
            raise ConfigError(f"method {name!r}: unknown profile names {missing}; use {PROFILE_NAMES}")
        for profile, cfg in profiles.items():
            if not isinstance(cfg, config):
                raise ConfigError(f"method {name!r}: profile {profile!r} is not a {config.__name__}")
        cls.name = name
        cls.config_class = config
        _REGISTRY[name] = MethodSpec(name=name, recommender=cls, config=config, profiles=dict(profiles))
        return cls

    return decorate


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        importlib.import_module(ep.value.split(":")[0])


def method_names() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


def get_method(name: str) -> MethodSpec:
    """The registered method ``name``; an unknown name lists the valid ones."""
    _load_all()
    if name not in _REGISTRY:
        raise UnknownNameError("method", name, list(_REGISTRY))
    return _REGISTRY[name]


def apply_overrides(config: Any, overrides: dict[str, Any], *, where: str, prefix: str = "") -> Any:
    """A copy of dataclass ``config`` with ``overrides`` (dotted keys reach nested dataclasses).

    Strings (``--set``) are parsed to the field's type; typed values (a config file, the
    Python API) must already have it (an int is a valid float, a list a valid tuple). Unknown
    keys and values of the wrong type raise :class:`ConfigError` naming the whole dotted key
    (``prefix`` + key) and, for an unknown key, the valid keys at its level.
    """
    fields = {f.name: f for f in dataclasses.fields(config)}
    changes: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in overrides.items():
        head, dot, rest = key.partition(".")
        if head not in fields:
            level = f" under {prefix[:-1]!r}" if prefix else ""
            raise ConfigError(f"{where}: unknown config key {prefix + key!r}; valid keys{level}: "
                              f"{', '.join(sorted(fields))}")
        current = getattr(config, head)
        if dot:
            if not dataclasses.is_dataclass(current):
                raise ConfigError(f"{where}: config key {prefix + head!r} has no sub-keys (got {prefix + key!r})")
            nested.setdefault(head, {})[rest] = value
        elif dataclasses.is_dataclass(current):
            raise ConfigError(f"{where}: config key {prefix + head!r} is a group of keys "
                              f"({', '.join(f.name for f in dataclasses.fields(current))}); set them one by one, "
                              f"e.g. {prefix + head}.{dataclasses.fields(current)[0].name}")
        else:
            changes[head] = _coerce(value, _typed_like_field(config, head, current), key=prefix + key, where=where)
    for head, sub in nested.items():
        changes[head] = apply_overrides(getattr(config, head), sub, where=where, prefix=f"{prefix}{head}.")
    try:
        return dataclasses.replace(config, **changes)
    except (TypeError, ValueError, ConfigError) as error:   # the config's own checks (ranges, choices)
        raise ConfigError(f"{where}: {prefix[:-1] + ': ' if prefix else ''}{error}") from None


def _typed_like_field(config: Any, name: str, current: Any) -> Any:
    """``current`` as the type its field declares: a float field whose profile wrote an int
    (``time_budget_s=75 * 60``) takes floats, from ``--set`` and from typed values alike."""
    try:
        declared = typing.get_type_hints(type(config)).get(name)
    except (NameError, TypeError):   # an annotation that cannot be resolved: trust the value
        return current
    if declared is float and isinstance(current, int) and not isinstance(current, bool):
        return float(current)
    return current


def _coerce(value: Any, current: Any, *, key: str, where: str) -> Any:
    if not isinstance(value, str):
        return _check_typed(value, current, key=key, where=where)
    if isinstance(current, str):
        return value
    try:
        if isinstance(current, bool):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if isinstance(current, int):
            return int(value)
        if isinstance(current, float):
            return float(value)
        if current is None:
            return value
        if isinstance(current, tuple):
            return tuple(type(current[0])(v) if current else v for v in value.split(","))
    except ValueError:
        raise ConfigError(f"{where}: config key {key!r} expects {type(current).__name__}, got {value!r}") from None
    return value


def _check_typed(value: Any, current: Any, *, key: str, where: str) -> Any:
    """``value`` (not a string) as the type of ``current``; ConfigError when it is another type.
    bool is not an int here, an int is a float, a list or tuple is a tuple (items checked the
    same way); a field whose value is None or of another kind takes any value."""
    expected = type(current)
    if current is None or not isinstance(current, (bool, int, float, str, tuple)):
        return value
    if isinstance(current, bool):
        ok = isinstance(value, bool)
    elif isinstance(current, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(current, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(current, tuple):
        ok = isinstance(value, (list, tuple))
        if ok and current:
            value = tuple(_coerce(v, current[0], key=key, where=where) for v in value)
        elif ok:
            value = tuple(value)
    else:   # a str field
        ok = False
    if not ok:
        raise ConfigError(f"{where}: config key {key!r} expects {expected.__name__}, "
                          f"got {value!r} ({type(value).__name__})")
    return value
