"""Datasets by name: cards, the data root, and ``load_dataset``.

``load_dataset(name)`` reads ``<data root>/<card.folder>/``: the card's preprocessed files if
they are all there, else its raw files, else a DataError listing what is expected and the
download command. The provenance of the result records the card, variant, format, every
file read with its size and SHA-256 (and whether it matches the card), the processing
steps, and whether the counts match the card's expected counts.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from genrec_bench.data.cards import DatasetCard, Variant, load_card
from genrec_bench.data.checksums import sha256_file
from genrec_bench.data.loaders import get_format
from genrec_bench.data.types import SequenceDataset
from genrec_bench.errors import DataError, UnknownNameError

#: the folder of dataset cards (``datasets/`` at the repository root; not a Python package)
CARDS_DIR = Path(__file__).resolve().parents[2] / "datasets"
#: where ``python -m genrec_bench.data.download`` puts files by default
DOWNLOAD_CACHE = CARDS_DIR / "cache"
ENV_VAR = "GENREC_DATA"
_GLOB_CHARS = set("*?[")


@lru_cache(maxsize=4)
def _cards(cards_dir: Path) -> dict[str, DatasetCard]:
    if not cards_dir.is_dir():
        raise DataError(cards_dir, "no dataset cards folder here: the cards live in the repository's "
                        "datasets/ folder, which a non-editable install does not copy; install the suite "
                        "from a checkout with pip install -e .")
    return {p.stem: load_card(p) for p in sorted(cards_dir.glob("*.toml"))}


def dataset_names() -> list[str]:
    """Every dataset that has a card, sorted."""
    return sorted(_cards(CARDS_DIR))


def check_dataset_name(name: str) -> list[str]:
    """The domain names of ``name`` (``a+b`` joins several datasets, see ``multidomain``);
    UnknownNameError naming the bad part and every valid name."""
    from genrec_bench.data.multidomain import check_dataset_name as check

    return check(name, dataset_names())


def get_card(name: str) -> DatasetCard:
    """The card of dataset ``name``; UnknownNameError listing the valid names."""
    cards = _cards(CARDS_DIR)
    if name not in cards:
        raise UnknownNameError("dataset", name, list(cards))
    return cards[name]


def resolve_data_root(cli_value: str | Path | None = None) -> Path:
    """The folder holding the dataset folders.

    Order: ``cli_value`` (``--data-root``), then ``$GENREC_DATA``, then ``../shared/data``
    relative to the current directory if it exists. A given folder that does not exist, or
    no folder at all, is a DataError that says how to set one.
    """
    for value, what in ((cli_value, "--data-root"), (os.environ.get(ENV_VAR), f"${ENV_VAR}")):
        if value:
            path = Path(value).expanduser()
            if not path.is_dir():
                raise DataError(path, f"the data root given by {what} is not a folder")
            return path.resolve()
    default = Path.cwd() / ".." / "shared" / "data"
    if default.is_dir():
        return default.resolve()
    raise DataError(default, f"no data root: pass --data-root DIR, or set {ENV_VAR}=DIR (the "
                             "folder that holds e.g. amazon2014-beauty/), or run from a folder "
                             "next to shared/data. Files fetched with `python -m "
                             f"genrec_bench.data.download NAME` are under {DOWNLOAD_CACHE}")


def _match(folder: Path, pattern: str) -> list[Path]:
    if _GLOB_CHARS & set(pattern):
        return sorted(p for p in folder.glob(pattern) if p.is_file())
    path = folder / pattern
    return [path] if path.is_file() else []


def _resolve_files(folder: Path, variant: Variant) -> tuple[dict[str, Path | list[Path]], list[str]]:
    """``{role: path or paths}`` of the files present, and the required names missing."""
    module = get_format(variant.format)
    found: dict[str, Path | list[Path]] = {}
    missing: list[str] = []
    for role, pattern in [*variant.files.items(), *variant.optional_files.items()]:
        paths = _match(folder, pattern)
        if not paths:
            if role in variant.files:
                missing.append(pattern)
            continue
        if role in module.MULTI:
            found[role] = paths
        elif len(paths) > 1:
            raise DataError(folder, f"{pattern!r} matches {len(paths)} files; expected one")
        else:
            found[role] = paths[0]
    return found, missing


def _download_hint(card: DatasetCard, root: Path) -> str:
    downloads = card.raw.downloads if card.raw is not None else ()
    if downloads and all(d.url for d in downloads):
        return (f"download the raw files with: python -m genrec_bench.data.download {card.name} "
                f"--data-root {root}")
    return (f"no public download URL is known for every file of this dataset; obtain them from "
            f"{card.source} and put them in {root / card.folder}")


def _file_records(variant: Variant, files: dict[str, Path | list[Path]]) -> list[dict]:
    records = []
    for role, value in files.items():
        for path in value if isinstance(value, list) else [value]:
            digest = sha256_file(path)
            known = variant.sha256.get(path.name, "")
            records.append({"role": role, "path": str(path), "bytes": path.stat().st_size,
                            "sha256": digest, "sha256_matches_card": (digest == known) if known
                            else None})
    return records


def _pick_variant(card: DatasetCard, folder: Path, root: Path,
                  kind: str | None) -> tuple[Variant, dict[str, Path | list[Path]]]:
    candidates = card.variants() if kind is None else [v for v in card.variants() if v.kind == kind]
    if not candidates:
        raise DataError(card.path, f"dataset {card.name!r} has no {kind!r} variant; it has "
                                   f"{', '.join(v.kind for v in card.variants())}")
    lines = []
    for variant in candidates:
        files, missing = _resolve_files(folder, variant)
        if not missing:
            return variant, files
        lines.append(f"{variant.kind} ({variant.format}): {', '.join(variant.files.values())}"
                     f" (missing: {', '.join(missing)})")
    raise DataError(folder, f"the files of dataset {card.name!r} are not here. Expected "
                            f"{'; or '.join(lines)}. {_download_hint(card, root)}")


def load_dataset(name: str, data_root: str | Path | None = None, *,
                 variant: str | None = None) -> SequenceDataset:
    """Load dataset ``name`` as chronological sequences (items ``1..n_items``).

    Args:
        name: a name from ``dataset_names()``, or several joined with ``+``.
        data_root: the folder holding the dataset folders; None = ``resolve_data_root(None)``.
        variant: force ``"preprocessed"`` or ``"raw"``; None = preprocessed when present.

    ``name`` may join several names with ``+`` (``amazon2014-beauty+amazon2014-sports``):
    each domain is loaded on its own and the domains are merged without sharing any user or
    item (``genrec_bench.data.multidomain.merge_domains``).

    Raises:
        UnknownNameError: ``name`` (or a part of it) has no card.
        DataError: files missing or malformed, or no chronological order possible.
    """
    parts = check_dataset_name(name)
    if len(parts) > 1:
        from genrec_bench.data.multidomain import merge_domains

        return merge_domains([load_dataset(part, data_root, variant=variant) for part in parts],
                             name)
    card = get_card(name)
    root = resolve_data_root(data_root)
    folder = root / card.folder
    chosen, files = _pick_variant(card, folder, root, variant)
    module = get_format(chosen.format)
    dataset = module.load(name=name, **files, **chosen.options)
    counts = dataset.counts()
    matches = None if chosen.expected is None else all(
        counts[k] == v for k, v in chosen.expected.items())
    if matches is False:
        warnings.warn(f"{name}: counts {counts} differ from the card's expected "
                      f"{chosen.expected} ({card.path.name})", stacklevel=2)
    records = _file_records(chosen, files)
    if any(r["sha256_matches_card"] is False for r in records):
        bad = [Path(r["path"]).name for r in records if r["sha256_matches_card"] is False]
        warnings.warn(f"{name}: SHA-256 of {', '.join(bad)} differs from {card.path.name}",
                      stacklevel=2)
    provenance = {
        "dataset": name,
        "card": card.path.name,
        "variant": chosen.kind,
        **dataset.provenance,
        "format": chosen.format,
        "folder": str(folder),
        "files": records,
        "options": dict(chosen.options),
        "expected_counts": chosen.expected,
        "counts_match_expected": matches,
        "text_is_proxy": None if dataset.item_text is None else dataset.item_text.is_proxy,
    }
    return replace(dataset, provenance=provenance)
