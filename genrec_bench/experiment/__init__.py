"""Experiments: one run of a method on a dataset, from Python (``genrec_bench.run``) or the
command line (``runners.run``, which only parses arguments and prints).

``run`` = ``prepare`` (every argument checked, nothing loaded or written) + ``execute``;
``config_files`` reads ``--config``/``config=`` TOML files; ``preflight`` holds the checks of
the results folder, the device and metric names.
"""

from genrec_bench.experiment.api import (
    Plan,
    RunInterrupted,
    execute,
    interrupted_message,
    prepare,
    run,
    run_identity,
)

__all__ = ["Plan", "RunInterrupted", "execute", "interrupted_message", "prepare", "run", "run_identity"]
