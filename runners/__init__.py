"""Command-line entry points: ``python -m runners.run`` (one run) and the table builders."""
