"""Records name their data files relative to the data root, never by the absolute path of the
machine that ran them (issue 20.3).

The provenance a dataset loader returns holds absolute paths (``folder``, ``source``,
``files[*].path``, also per domain of a multi-domain dataset). ``relative_to_root`` rewrites
every string under the data root as a path relative to it (``amazon2014-beauty/datamaps.json``;
the root itself becomes ``.``), so a record names a file by dataset folder, file name and the
SHA-256 beside it, and records made on different machines are identical.

``python -m genrec_bench.records.data_paths --data-root DIR RESULTS_DIR`` migrates records
written before this rule (once): only those strings change, byte for byte the rest of
``record.json`` stays, and ``per_user.npz`` is not opened.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from genrec_bench.records.atomic import atomic_write_bytes
from genrec_bench.records.record import RECORD_FILE


def relative_to_root(obj: Any, root: str | Path) -> Any:
    """A copy of ``obj`` (JSON-like) where every string that is ``root`` or a path under it is
    made relative to ``root`` (POSIX form); everything else is returned as it is."""
    root_text = str(Path(root)).rstrip("/") or "/"
    prefix = root_text if root_text.endswith("/") else root_text + "/"
    if isinstance(obj, str):
        if obj == root_text:
            return "."
        return obj[len(prefix):] if obj.startswith(prefix) else obj
    if isinstance(obj, dict):
        return {key: relative_to_root(value, root) for key, value in obj.items()}
    if isinstance(obj, list):
        return [relative_to_root(value, root) for value in obj]
    return obj


def record_text(record: dict) -> str:
    """``record.json``'s text exactly as ``atomic_write_json`` writes it."""
    return json.dumps(record, indent=2, sort_keys=False, allow_nan=True) + "\n"


def migrate_record(path: Path, root: str | Path) -> bool:
    """Rewrite the data paths of one ``record.json`` relative to ``root``; True if it changed.

    Refuses (ValueError) a file that its own JSON would not rewrite byte for byte: then more
    than the paths would change."""
    text = path.read_text()
    record = json.loads(text)
    if record_text(record) != text:
        raise ValueError(f"{path}: not in the writer's format; not migrated")
    data = record.get("data", {})
    migrated = relative_to_root(data, root)
    if migrated == data:
        return False
    record["data"] = migrated
    atomic_write_bytes(path, record_text(record).encode())
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genrec_bench.records.data_paths", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results_dir", help="the folder holding runs/")
    parser.add_argument("--data-root", required=True, help="the absolute data root the records name")
    args = parser.parse_args(argv)
    changed = [p for p in sorted(Path(args.results_dir, "runs").glob(f"*/*/*/{RECORD_FILE}"))
               if migrate_record(p, args.data_root)]
    print(f"{len(changed)} record(s) migrated", file=sys.stderr)
    for path in changed:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
