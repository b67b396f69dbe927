"""Whether a table's dataset is present, and how to obtain it when it is not.

Table captions are committed files: they must read the same on every machine. So a caption
names the data root as the user gave it (``--data-root DIR`` as typed, else ``$GENREC_DATA``,
else ``../shared/data``), never the absolute folder it resolves to, and the download command
it suggests puts the files into that same root, where the table will look for them.
"""

from __future__ import annotations

import os
from pathlib import Path

from genrec_bench.data.catalog import (
    ENV_VAR,
    _resolve_files,
    dataset_names,
    get_card,
    resolve_data_root,
)
from genrec_bench.errors import GenRecError

#: the data root used when neither ``--data-root`` nor ``$GENREC_DATA`` is given
DEFAULT_ROOT_LABEL = "../shared/data"


def data_root_label(cli_value: str | None) -> str:
    """The data root as the user gave it: ``cli_value`` as typed, else ``$GENREC_DATA`` (the
    variable, not its value), else the default ``../shared/data``.

    >>> data_root_label("data/")
    'data/'
    """
    if cli_value:
        return str(cli_value)
    if os.environ.get(ENV_VAR):
        return f"${ENV_VAR}"
    return DEFAULT_ROOT_LABEL


def download_hint(name: str, cli_value: str | None) -> str:
    """The command that fetches ``name``'s public files into the data root the tables read."""
    label = data_root_label(cli_value)
    root = f'"{label}"' if label.startswith("$") else label
    return f"`python -m genrec_bench.data.download {name} --data-root {root}` fetches the raw public files"


def dataset_status(name: str, data_root: str | None) -> str | None:
    """None when the data of ``name`` is present under the data root, else how to obtain it
    (``--data-root``/``$GENREC_DATA`` and the download command into that root)."""
    if name not in dataset_names():
        return "not a dataset this suite knows"
    label = data_root_label(data_root)
    try:
        root = resolve_data_root(data_root)
    except GenRecError:
        return (f"data absent: no data root ({label} is not a folder; pass --data-root DIR or set "
                f"{ENV_VAR}=DIR); {download_hint(name, data_root)}")
    card = get_card(name)
    folder = Path(root) / card.folder
    if folder.is_dir() and any(folder.iterdir()):
        return None
    return (f"data absent: put the files of {card.folder!r} under the data root {label} (--data-root or "
            f"${ENV_VAR}); {download_hint(name, data_root)}")


def domain_status(name: str, data_root: str | None) -> str | None:
    """As :func:`dataset_status`, and when the folder is there (maybe shared with other
    datasets, e.g. ``douban/``), whether this dataset's own files are in it."""
    status = dataset_status(name, data_root)
    if status is not None:
        return status
    card = get_card(name)
    folder = resolve_data_root(data_root) / card.folder
    wanted = []
    for variant in card.variants():
        _, missing = _resolve_files(folder, variant)
        if not missing:
            return None
        wanted.append(f"{variant.kind}: {', '.join(missing)}")
    return (f"data absent: {data_root_label(data_root)}/{card.folder} lacks the files of {name} "
            f"({'; or '.join(wanted)}); {download_hint(name, data_root)} where a URL is known")
