"""One module per file format; each turns its files into a ``SequenceDataset``.

Every format module declares:

* ``FORMAT``: the name dataset cards use (``format = "p5"``);
* ``REQUIRED`` / ``OPTIONAL``: the file roles ``load`` takes as keyword arguments
  (a card's ``files`` / ``optional_files`` tables map these roles to file names);
* ``MULTI``: roles whose card entry is a glob that may match several files (given as a list);
* ``OPTIONS``: the card options ``load`` accepts (``k_core``, ``min_length``);
* ``load(*, name, **files, **options) -> SequenceDataset``.
"""

from __future__ import annotations

from types import ModuleType

from genrec_bench.data.loaders import amazon2014_raw, amazon2018_raw, douban, kuairand, lcrec, p5
from genrec_bench.errors import UnknownNameError

FORMATS: dict[str, ModuleType] = {
    module.FORMAT: module
    for module in (p5, lcrec, amazon2014_raw, amazon2018_raw, douban, kuairand)
}


def get_format(name: str) -> ModuleType:
    """The loader module of format ``name``."""
    if name not in FORMATS:
        raise UnknownNameError("data format", name, list(FORMATS))
    return FORMATS[name]


__all__ = ["FORMATS", "get_format"]
