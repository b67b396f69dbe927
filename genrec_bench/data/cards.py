"""Dataset cards: ``datasets/<name>.toml`` says where a dataset comes from and how to read it.

A card (every key is checked; an unknown key is a DataError naming the card and the key)::

    name = "amazon2014-beauty"          # = the file's stem
    description = "..."
    licence = "..."
    folder = "amazon2014-beauty"        # under the data root
    source = "https://..."              # where the data is published
    citation = "..."
    notes = "..."                       # optional

    [preprocessed]                      # and/or [raw]: the same keys
    format = "p5"                       # a loader in genrec_bench.data.loaders
    files = { sequences = "sequential_data.txt", datamaps = "datamaps.json" }
    optional_files = { text = "item_text_proxy.txt" }
    sha256 = { "sequential_data.txt" = "..." }   # known checksums only, never guessed
    min_length = 5                      # or k_core = 5: options the format accepts
    text_fields = ["text"]
    text_is_proxy = true
    expected = { users = 22363, items = 12101, interactions = 198502 }
    source = "..."                      # optional, where these files come from
    note = "..."                        # optional

    [[raw.downloads]]                   # public files the downloader fetches
    file = "reviews_Beauty_5.json.gz"
    url = "http://..."                  # "" when no public URL is known
    sha256 = ""                         # "" when unknown
    extract = ["*/log_standard_*.csv"]  # optional: archive members to unpack (flattened)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genrec_bench.data.loaders import FORMATS
from genrec_bench.errors import DataError

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

VARIANTS = ("preprocessed", "raw")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_TOP_KEYS = {"name": str, "description": str, "licence": str, "folder": str, "source": str,
             "citation": str, "notes": str, "preprocessed": dict, "raw": dict}
_TOP_REQUIRED = ("name", "description", "licence", "folder", "source", "citation")
_VARIANT_KEYS = {"format": str, "files": dict, "optional_files": dict, "sha256": dict,
                 "k_core": int, "min_length": int, "text_fields": list, "text_is_proxy": bool,
                 "expected": dict, "downloads": list, "source": str, "note": str}
_DOWNLOAD_KEYS = {"file": str, "url": str, "sha256": str, "extract": list, "note": str}
_COUNT_KEYS = ("users", "items", "interactions")


@dataclass(frozen=True)
class Download:
    """One public file: saved as ``file`` in the dataset folder (or unpacked, see ``extract``).

    Attributes:
        file: local file name.
        url: HTTP(S) address, ``""`` when no public address is known.
        sha256: expected hex digest, ``""`` when unknown (then nothing is verified).
        extract: glob patterns of archive members to unpack into the folder (flattened).
        note: what to do by hand where ``url`` is empty.
    """

    file: str
    url: str
    sha256: str = ""
    extract: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Variant:
    """One way of reading a dataset: its preprocessed files or its raw downloads.

    Attributes:
        kind: ``"preprocessed"`` or ``"raw"``.
        format: loader name (``genrec_bench.data.loaders.FORMATS``).
        files: required ``{role: file name or glob}``.
        optional_files: optional ``{role: file name or glob}``.
        sha256: known ``{file name: hex digest}``.
        options: loader options from the card (``k_core``, ``min_length``).
        text_fields: item text fields this variant gives (empty = none).
        text_is_proxy: whether that text is a proxy of the real metadata.
        expected: ``{"users", "items", "interactions"}`` where known, else None.
        downloads: the public files of this variant.
    """

    kind: str
    format: str
    files: dict[str, str]
    optional_files: dict[str, str] = field(default_factory=dict)
    sha256: dict[str, str] = field(default_factory=dict)
    options: dict[str, int] = field(default_factory=dict)
    text_fields: tuple[str, ...] = ()
    text_is_proxy: bool = False
    expected: dict[str, int] | None = None
    downloads: tuple[Download, ...] = ()
    source: str = ""
    note: str = ""

    def all_files(self) -> list[str]:
        """Required then optional file names (or globs)."""
        return [*self.files.values(), *self.optional_files.values()]


@dataclass(frozen=True)
class DatasetCard:
    """A parsed and validated ``datasets/<name>.toml``."""

    name: str
    description: str
    licence: str
    folder: str
    source: str
    citation: str
    path: Path
    preprocessed: Variant | None = None
    raw: Variant | None = None
    notes: str = ""

    def variants(self) -> list[Variant]:
        """The variants the card defines, preprocessed first."""
        return [v for v in (self.preprocessed, self.raw) if v is not None]


def _check_keys(path: Path, table: dict[str, Any], allowed: dict[str, type], prefix: str,
                required: tuple[str, ...] = ()) -> None:
    for key, value in table.items():
        name = f"{prefix}{key}"
        if key not in allowed:
            raise DataError(path, f"unknown key; valid keys here: {', '.join(sorted(allowed))}",
                            key=name)
        want = allowed[key]
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise DataError(path, f"expected a {want.__name__}, got {type(value).__name__}",
                            key=name)
    for key in required:
        if key not in table:
            raise DataError(path, "missing required key", key=f"{prefix}{key}")


def _str_table(path: Path, table: dict[str, Any], key: str) -> dict[str, str]:
    for k, v in table.items():
        if not isinstance(v, str) or not v:
            raise DataError(path, "expected a non-empty string", key=f"{key}.{k}")
    return dict(table)


def _sha(path: Path, value: str, key: str) -> str:
    if value and not _SHA256.match(value):
        raise DataError(path, "expected 64 lowercase hex digits or \"\" (unknown)", key=key)
    return value


def _download(path: Path, table: Any, key: str) -> Download:
    if not isinstance(table, dict):
        raise DataError(path, "expected a table", key=key)
    _check_keys(path, table, _DOWNLOAD_KEYS, f"{key}.", required=("file", "url", "sha256"))
    url = table["url"]
    if url and not url.startswith(("http://", "https://")):
        raise DataError(path, "expected an http(s) URL or \"\" (unknown)", key=f"{key}.url")
    extract = table.get("extract", [])
    if not all(isinstance(p, str) and p for p in extract):
        raise DataError(path, "expected a list of glob patterns", key=f"{key}.extract")
    return Download(file=table["file"], url=url, sha256=_sha(path, table["sha256"], f"{key}.sha256"),
                    extract=tuple(extract), note=table.get("note", ""))


def _variant(path: Path, kind: str, table: dict[str, Any]) -> Variant:
    _check_keys(path, table, _VARIANT_KEYS, f"{kind}.", required=("format", "files"))
    fmt = table["format"]
    if fmt not in FORMATS:
        raise DataError(path, f"unknown format {fmt!r}; known: {', '.join(sorted(FORMATS))}",
                        key=f"{kind}.format")
    module = FORMATS[fmt]
    files = _str_table(path, table["files"], f"{kind}.files")
    optional = _str_table(path, table.get("optional_files", {}), f"{kind}.optional_files")
    if set(files) != set(module.REQUIRED):
        raise DataError(path, f"format {fmt!r} needs exactly the file roles "
                              f"{', '.join(module.REQUIRED)}; got {', '.join(files) or 'none'}",
                        key=f"{kind}.files")
    for role in optional:
        if role not in module.OPTIONAL:
            raise DataError(path, f"format {fmt!r} has no optional file role {role!r}; valid: "
                                  f"{', '.join(module.OPTIONAL) or 'none'}",
                            key=f"{kind}.optional_files.{role}")
    options = {k: table[k] for k in ("k_core", "min_length") if k in table}
    for k, v in options.items():
        if k not in module.OPTIONS:
            raise DataError(path, f"format {fmt!r} takes no option {k!r} (it takes "
                                  f"{', '.join(module.OPTIONS) or 'none'})", key=f"{kind}.{k}")
        if v < 1:
            raise DataError(path, "expected an integer >= 1", key=f"{kind}.{k}")
    sha = {k: _sha(path, v, f"{kind}.sha256.{k}")
           for k, v in _str_table(path, table.get("sha256", {}), f"{kind}.sha256").items()}
    expected = table.get("expected")
    if expected is not None:
        _check_keys(path, expected, dict.fromkeys(_COUNT_KEYS, int), f"{kind}.expected.")
    text_fields = table.get("text_fields", [])
    if not all(isinstance(f, str) and f for f in text_fields):
        raise DataError(path, "expected a list of field names", key=f"{kind}.text_fields")
    downloads = tuple(_download(path, d, f"{kind}.downloads[{i}]")
                      for i, d in enumerate(table.get("downloads", [])))
    return Variant(kind=kind, format=fmt, files=files, optional_files=optional, sha256=sha,
                   options=options, text_fields=tuple(text_fields),
                   text_is_proxy=table.get("text_is_proxy", False), expected=expected,
                   downloads=downloads, source=table.get("source", ""), note=table.get("note", ""))


def load_card(path: Path | str) -> DatasetCard:
    """Parse and validate one card file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise DataError(path, "dataset card not found") from error
    except tomllib.TOMLDecodeError as error:
        raise DataError(path, f"invalid TOML: {error}") from error
    _check_keys(path, data, _TOP_KEYS, "", required=_TOP_REQUIRED)
    if data["name"] != path.stem:
        raise DataError(path, f"name {data['name']!r} must equal the file name {path.stem!r}",
                        key="name")
    variants = {kind: _variant(path, kind, data[kind]) for kind in VARIANTS if kind in data}
    if not variants:
        raise DataError(path, "a card needs a [preprocessed] or a [raw] table")
    return DatasetCard(name=data["name"], description=data["description"],
                       licence=data["licence"], folder=data["folder"], source=data["source"],
                       citation=data["citation"], path=path, notes=data.get("notes", ""),
                       **variants)
