"""Config files: ``--config FILE.toml`` of ``runners.run``, ``config=`` of ``genrec_bench.run``.

A TOML file (or a nested mapping) sets fields of a method's config; a table reaches a nested
config dataclass::

    max_epochs = 50

    [training]          # TIGER's, LETTER's, FlexCode's shared generator training config
    lr = 1e-3
    lr_schedule = "cosine"

The file is flattened to dotted keys (``training.lr``) and applied with
:func:`genrec_bench.registry.apply_overrides`, the code that applies ``--set``: an unknown key
names the valid keys at its level, a value of another type names the type expected. A value
given with ``--set`` (``overrides=``) wins over the file's.

The top-level table ``[genrec_bench]`` is metadata, not config: it may hold
``tuned = { study = "...", trial = N, objective = "...", value = ... }`` (written by a tuning
runner). It is stripped before the config is applied; the record keeps it in
``config_file = {"path", "sha256", "tuned"}``.

Every problem is one :class:`ConfigError` line naming the file: a missing file, a TOML syntax
error (line and column), an unknown key, a wrong type.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genrec_bench.errors import ConfigError
from genrec_bench.registry import MethodSpec, apply_overrides

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser as the tomli package
    import tomli as tomllib  # type: ignore[no-redef]

#: the top-level table of a config file that holds metadata, not config
RESERVED = "genrec_bench"
#: what ``[genrec_bench]`` may hold
RESERVED_KEYS = ("tuned",)


@dataclass(frozen=True)
class ConfigSource:
    """A config file or mapping, read: ``overrides`` (dotted keys, metadata stripped),
    ``info`` (the record's ``config_file``) and ``where`` (how errors name it)."""

    overrides: dict[str, Any]
    info: dict
    where: str


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"training": {"lr": 1e-3}}`` -> ``{"training.lr": 1e-3}`` (keys that hold dots stay)."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def shown_path(path: str | Path) -> str:
    """``path`` as the user gave it, made relative when it lies under the current directory."""
    given = Path(path)
    if given.is_absolute():
        for candidate in (given, given.resolve()):
            try:
                return str(candidate.relative_to(Path.cwd().resolve()))
            except ValueError:
                continue
    return str(path)


def read_config(config: str | Path | Mapping[str, Any]) -> ConfigSource:
    """The config a TOML file or a nested mapping gives; ConfigError naming the file."""
    if isinstance(config, Mapping):
        where = "config mapping"
        table, info = dict(config), {"path": None, "sha256": None}
    else:
        shown = shown_path(config)
        where = f"config file {shown}"
        path = Path(config).expanduser()
        if not path.exists():
            raise ConfigError(f"{where}: no such file")
        if not path.is_file():
            raise ConfigError(f"{where}: not a file")
        data = path.read_bytes()
        try:
            table = tomllib.loads(data.decode("utf-8"))
        except UnicodeDecodeError as error:
            raise ConfigError(f"{where}: not UTF-8 text ({error.reason} at byte {error.start})") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{where}: not valid TOML: {error}") from None
        info = {"path": shown, "sha256": hashlib.sha256(data).hexdigest()}
    meta = table.pop(RESERVED, {})
    if not isinstance(meta, Mapping):
        raise ConfigError(f"{where}: [{RESERVED}] is a table of metadata ({', '.join(RESERVED_KEYS)}), "
                          f"got {meta!r}")
    unknown = sorted(set(meta) - set(RESERVED_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key {RESERVED}.{unknown[0]}; [{RESERVED}] holds metadata only: "
                          f"{', '.join(RESERVED_KEYS)}")
    tuned = meta.get("tuned")
    if tuned is not None and not isinstance(tuned, Mapping):
        raise ConfigError(f"{where}: {RESERVED}.tuned is a table (study, trial, objective, value), got {tuned!r}")
    # JSON-able for record.json (TOML dates and times become their ISO text)
    info["tuned"] = None if tuned is None else json.loads(json.dumps(dict(tuned), default=str))
    return ConfigSource(overrides=flatten(table), info=info, where=where)


def resolve_config(spec: MethodSpec, profile: str, *,
                   config: str | Path | Mapping[str, Any] | None = None,
                   overrides: Mapping[str, Any] | None = None) -> tuple[Any, dict | None]:
    """``(config, config_file)``: ``spec``'s ``profile`` config with the config file's (or
    mapping's) values applied, then ``overrides`` (``--set``: they win); ``config_file`` is
    what the record stores, None without a file."""
    resolved = spec.make_config(profile)
    wins = flatten(overrides or {})
    source = None if config is None else read_config(config)
    if source is not None:
        from_file = {key: value for key, value in source.overrides.items() if key not in wins}
        resolved = apply_overrides(resolved, from_file, where=f"{source.where} (method {spec.name!r})")
    if wins:
        resolved = apply_overrides(resolved, wins, where=f"method {spec.name!r}")
    return resolved, None if source is None else source.info
