"""One switch for progress bars, set by ``runners.run --no-progress`` (``progress=`` of
``genrec_bench.run``, for the run only).

By default tqdm decides (bars on a terminal, none in a log file); once hidden, no bar of
the suite's own loops or of sentence-transformers' encoding is drawn.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

_hidden = False


def hide_progress_bars(hidden: bool = True) -> None:
    global _hidden
    _hidden = hidden


def tqdm_disable(wanted: bool = True) -> bool | None:
    """tqdm's ``disable`` argument: True when bars are hidden or not ``wanted``, else None
    (tqdm's own rule: disabled when the output is not a terminal)."""
    return True if (_hidden or not wanted) else None


@contextmanager
def shown_progress_bars(shown: bool) -> Iterator[None]:
    """Within the block, progress bars are drawn (tqdm decides) when ``shown``, else hidden;
    the switch is as before afterwards."""
    global _hidden
    before, _hidden = _hidden, not shown
    try:
        yield
    finally:
        _hidden = before
