"""Re-score a finished run from its stored top-K lists under other evaluation settings.

    python -m runners.rescore results/runs/amazon2014-beauty/etegrec/cpu-seed0-1a2b3c4d5e \
        --invalid-slots miss

Methods that rank from top-K lists (beam-search decoders) keep each user's list in
``per_user.npz`` (``<split>_lists``, ``<split>_list_ties``). This command ranks those lists
again with the one evaluator under the new settings and writes a NEW record, in its own run
directory (the evaluation differs, so the run id does too), with a note saying it was
re-scored and from which run; nothing is retrained. Training, timings, efficiency and the
environment are the original run's.

What a stored list cannot give back: items it does not hold. Settings that remove more items
than the original (``--mask-history`` on a run without it) filter the stored lists without
refilling them (the record's ``empty_slot_rate`` shows the shortfall; a re-run decodes K
allowed items); settings that remove fewer are refused, since items the decoder was told to
leave out are not in the lists.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import shlex
import sys
from pathlib import Path

import numpy as np
import torch

from genrec_bench.data.catalog import load_dataset, resolve_data_root
from genrec_bench.data.split import EvalSplit, SequenceSplits, leave_last_out
from genrec_bench.data.types import SequenceDataset
from genrec_bench.errors import GenRecError
from genrec_bench.evaluation import (
    INVALID_SLOT_POLICIES,
    TIE_POLICIES,
    EvalConfig,
    Evaluator,
)
from genrec_bench.evaluation.summary import record_metrics
from genrec_bench.recommender import FitReport, HistoryBatch, Recommender, TopK
from genrec_bench.records import RunRecord, run_directory
from genrec_bench.records.record import PER_USER_FILE, RECORD_FILE

SPLITS = ("valid", "test")
#: the evaluation settings a re-scoring may change
CHANGEABLE = ("invalid_slots", "tie_policy", "mask_history", "candidates")


class StoredLists(Recommender):
    """A "method" that answers with a finished run's stored top-K lists.

    Scores are rebuilt from the stored ties (``-(index of the slot's tie group)``), which
    ranks within a list exactly as the original scores did. ``exclude`` is not declared:
    stored lists cannot be refilled, so the evaluator filters them.
    """

    def __init__(self, name: str, users: np.ndarray, lists: np.ndarray, list_ties: np.ndarray) -> None:
        super().__init__(None)
        self.name = name
        self.row_of = np.full(int(users.max(initial=-1)) + 1, -1, dtype=np.int64)
        self.row_of[users] = np.arange(users.shape[0])
        self.items = torch.from_numpy(lists.astype(np.int64))
        self.scores = -torch.from_numpy(np.cumsum(~list_ties, axis=1) - 1).float()

    def fit(self, splits: SequenceSplits, validator=None) -> FitReport:
        raise GenRecError("stored lists are not trained")

    def recommend(self, histories: HistoryBatch, k: int) -> TopK:
        if k != self.items.shape[1]:
            raise GenRecError(f"the stored lists hold {self.items.shape[1]} items; cannot re-score with top_k={k}")
        rows = torch.from_numpy(self.row_of[histories.users])
        return TopK(items=self.items[rows], scores=self.scores[rows])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m runners.rescore", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("record_dir", type=Path, help="the run directory (holding record.json and per_user.npz)")
    parser.add_argument("--invalid-slots", choices=INVALID_SLOT_POLICIES, default=None,
                        help="an empty slot of a list is a miss in its place, or is skipped (default: unchanged)")
    parser.add_argument("--tie-policy", choices=TIE_POLICIES, default=None, help="default: unchanged")
    parser.add_argument("--mask-history", action=argparse.BooleanOptionalAction, default=None,
                        help="remove history items from the lists (default: unchanged)")
    parser.add_argument("--candidates", choices=("all", "user-domain"), default=None, help="default: unchanged")
    parser.add_argument("--data-root", default=None,
                        help="folder holding the dataset folders (default: $GENREC_DATA, then ../shared/data)")
    parser.add_argument("--results-dir", type=Path, default=None,
                        help="where the new record goes (default: the results folder holding RECORD_DIR)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing re-scored record")
    return parser


def load_splits(dataset_name: str, data_root: str | None) -> tuple[SequenceDataset, SequenceSplits]:
    """The dataset and its leave-last-out splits, as ``runners.run`` builds them."""
    dataset = load_dataset(dataset_name, resolve_data_root(data_root))
    return dataset, leave_last_out(dataset)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        path = rescore(args, argv if argv is not None else sys.argv[1:])
    except GenRecError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"record: {path}")
    return 0


def rescore(args: argparse.Namespace, argv: list[str]) -> Path:
    """Write the re-scored record; returns its ``record.json`` path."""
    source = Path(args.record_dir)
    record, arrays = _read_run(source)
    old = record["evaluation"]
    config = _new_config(old, args)
    before = _declared(old)
    changes = {key: (before[key], getattr(config, key)) for key in CHANGEABLE if before[key] != getattr(config, key)}
    if not changes:
        raise GenRecError(f"{source}: the requested settings are the record's own; nothing to re-score")

    dataset, splits = load_splits(record["dataset"], args.data_root)
    if json.loads(json.dumps(dataset.counts(), default=str)) != record["data"]["counts"]:
        raise GenRecError(f"{source}: the dataset {record['dataset']!r} under this data root has counts "
                          f"{dataset.counts()}, the record {record['data']['counts']}: not the data of the run")
    evaluator = Evaluator(config, n_items=splits.n_items,
                          item_domain=dataset.item_domain if dataset.is_multi_domain else None,
                          user_domain=dataset.user_domain if dataset.is_multi_domain else None)
    results = {}
    for name in SPLITS:
        split: EvalSplit = getattr(splits, name)
        users, targets = arrays[f"{name}_users"], arrays[f"{name}_targets"]
        if not (np.array_equal(users, split.users) and np.array_equal(targets, split.targets)):
            raise GenRecError(f"{source}: the {name} users or targets of the record differ from those of "
                              f"{record['dataset']!r} under this data root")
        lists = StoredLists(record["method"], users, arrays[f"{name}_lists"], arrays[f"{name}_list_ties"])
        results[name] = evaluator.evaluate(lists, split)

    metric_names = list(config.metrics)
    identity = {"config": record["config"], "tie_policy": config.tie_policy, "mask_history": config.mask_history,
                "metrics": metric_names, "invalid_slots": config.invalid_slots, "rescored": True}
    if config.candidates != "all":
        identity["candidates"] = config.candidates
    results_dir = args.results_dir or source.parents[3]
    directory = run_directory(results_dir, record["dataset"], record["method"], record["profile"],
                              record["seed"], identity)
    if (directory / RECORD_FILE).exists() and not args.force:
        raise GenRecError(f"{directory / RECORD_FILE} exists (this run re-scored with these settings); "
                          "use --force to write it again")
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    described = ", ".join(f"{key} {before!r} -> {after!r}" for key, (before, after) in changes.items())
    notes = [*record.get("notes", []),
             f"re-scored from the stored top-{config.top_k} lists of run {record['run_id']} "
             f"(finished {record.get('finished_at', '?')}) without retraining: {described}; training, "
             "timings, efficiency and environment are that run's"]
    if (config.mask_history and not before["mask_history"]) or config.candidates != before["candidates"]:
        notes.append("the new settings remove items the stored lists were decoded without removing: the lists "
                     "were filtered, not refilled (see top_k_lists.empty_slot_rate); a re-run decodes K allowed items")
    fields = {f.name for f in dataclasses.fields(RunRecord)}
    new = RunRecord(**{key: value for key, value in record.items() if key in fields})
    new.evaluation = evaluator.settings()
    new.metrics = record_metrics(results["valid"], results["test"], splits, metric_names)
    new.notes = notes
    new.command = "python -m runners.rescore " + shlex.join(argv)
    new.started_at = new.finished_at = now
    new.run_id = directory.name
    return new.write(directory, results)


def _read_run(source: Path) -> tuple[dict, dict[str, np.ndarray]]:
    if not (source / RECORD_FILE).is_file() or not (source / PER_USER_FILE).is_file():
        raise GenRecError(f"{source}: not a finished run (needs {RECORD_FILE} and {PER_USER_FILE})")
    record = json.loads((source / RECORD_FILE).read_text())
    with np.load(source / PER_USER_FILE) as data:
        arrays = {key: data[key] for key in data.files}
    missing = [f"{s}_{key}" for s in SPLITS for key in ("lists", "list_ties") if f"{s}_{key}" not in arrays]
    if missing:
        kind = ("it ranks the whole catalogue (scores are not stored): re-run it with python -m runners.run"
                if "top_k_lists" not in record.get("metrics", {}) else
                "it was made before lists were stored: re-run it with python -m runners.run")
        raise GenRecError(f"{source}: {PER_USER_FILE} keeps no top-K lists ({', '.join(missing)} missing), so "
                          f"it cannot be re-scored; {kind}")
    return record, arrays


def _declared(settings: dict) -> dict:
    """The changeable settings of a record's ``evaluation``; records made before a setting
    existed had its behaviour of then (empty slots skipped, all items, no masking)."""
    return {"invalid_slots": settings.get("invalid_slots", "skip"), "tie_policy": settings["tie_policy"],
            "mask_history": settings.get("mask_history", False), "candidates": settings.get("candidates", "all")}


def _new_config(old: dict, args: argparse.Namespace) -> EvalConfig:
    """The record's evaluation settings with the requested changes; refuses settings that
    would need items the stored lists cannot hold."""
    before = _declared(old)
    mask = before["mask_history"] if args.mask_history is None else args.mask_history
    candidates = args.candidates or before["candidates"]
    if before["mask_history"] and not mask:
        raise GenRecError("the run masked history items: its lists were decoded without them and cannot be "
                          "re-scored without masking (re-run it)")
    if before["candidates"] != "all" and candidates == "all":
        raise GenRecError(f"the run ranked candidates={before['candidates']!r}: its lists hold no other items "
                          "and cannot be re-scored over all items (re-run it)")
    try:
        return EvalConfig(metrics=tuple(old["metrics"]), batch_size=old.get("batch_size", 256),
                          tie_policy=args.tie_policy or before["tie_policy"], mask_history=mask,
                          top_k=old.get("top_k", 20), candidates=candidates,
                          invalid_slots=args.invalid_slots or before["invalid_slots"])
    except ValueError as error:
        raise GenRecError(str(error)) from error


if __name__ == "__main__":
    raise SystemExit(main())
