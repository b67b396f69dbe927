"""Learning curves: validation NDCG@10 against the training samples each run had seen.

    python -m runners.curves --dataset amazon2014-beauty [--profile cpu]

For every method with a record of ``--profile`` on ``--dataset`` (each method's current
configuration, newest record per seed: ``genrec_bench/records/selection.py``), reads the
per-epoch history ``training.epochs`` and writes under ``results/curves/``:

* ``<dataset>-<profile>.png``: one line per (method, seed), a marker at every validated
  epoch, x = training samples seen (cumulative, log scale), y = validation NDCG@10; a dashed
  line per method in the same colour at the paper's TEST NDCG@10 on this dataset (the
  registry of reported numbers, one number per method chosen as in ``REPRODUCTION.md``);
* ``<dataset>-<profile>.csv``: one row per recorded epoch (method, run_id, seed, stage,
  epoch, samples_seen, valid_ndcg@10; the last is empty where the epoch was not validated);
* ``<dataset>-<profile>.md``: the figure, its caption, the runs, the paper lines and the
  records left out with the reason.

Samples seen: the sum of ``samples`` over the epochs up to and including this one, as each
record counts a sample (generative methods: one (history, target) prefix; SASRec: every
trained position; BERT4Rec: every masked position). For ETEGRec the count is the samples the
GENERATOR was trained on: stage-1 ``tokenizer`` epochs freeze the generator (it only runs
forward for the alignment losses), so they add nothing whatever their ``samples`` says;
``generator`` and ``joint`` epochs and every stage-2 epoch add their ``samples``; stage 2
continues stage 1's count. A record whose history lacks ``samples`` for an epoch that counts,
at or before a validated epoch, is left out with a warning: no recorded field gives the count
exactly (``steps * batch_size`` over-counts a partial last batch, BERT4Rec's masked count
varies per epoch), and a curve must not rest on invented numbers.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate

from genrec_bench.data.catalog import check_dataset_name
from genrec_bench.errors import GenRecError
from genrec_bench.records.atomic import atomic_write_bytes
from genrec_bench.records.selection import config_id
from genrec_bench.reported import ReportedNumber, load_reported, paper_number
from genrec_bench.results import current_by_group, load_records
from genrec_bench.tables.cells import proxy_text_caption, read_proxy_text

METRIC = "ndcg@10"
VALID_COLUMN = f"valid_{METRIC}"
CSV_COLUMNS = ("method", "run_id", "seed", "stage", "epoch", "samples_seen", VALID_COLUMN)
#: matplotlib's tab10, one colour per method in name order (cycled beyond ten methods)
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")
#: one marker per seed of a method (cycled), so the seeds of one colour stay apart
MARKERS = ("o", "s", "^", "D", "v", "P")
#: the stage-1 ETEGRec phase in which the generator is frozen
FROZEN_GENERATOR_PHASE = "tokenizer"


@dataclass(frozen=True)
class EpochPoint:
    """One recorded epoch: ``stage`` is None for single-stage methods; ``samples_seen`` is
    None once an earlier epoch's count is unknown; ``valid`` is None if not validated."""

    stage: int | None
    epoch: int
    samples_seen: int | None
    valid: float | None


@dataclass(frozen=True)
class RunCurve:
    """The learning curve of one run record."""

    method: str
    run_id: str
    seed: int
    points: tuple[EpochPoint, ...]
    proxy_text: bool
    test: float | None

    @property
    def validated(self) -> tuple[EpochPoint, ...]:
        """The epochs with a validation value, in training order."""
        return tuple(p for p in self.points if p.valid is not None)


@dataclass(frozen=True)
class LeftOut:
    """A current record that has no curve, and why."""

    method: str
    run_id: str
    reason: str


@dataclass(frozen=True)
class Series:
    """One plotted curve: x = samples seen, y = validation metric, markers at every point."""

    label: str
    colour: str
    marker: str
    x: tuple[int, ...]
    y: tuple[float, ...]


@dataclass(frozen=True)
class PaperLine:
    """A horizontal dashed line at a paper's test value, in its method's colour."""

    label: str
    colour: str
    y: float


@dataclass(frozen=True)
class PlotSpec:
    """Everything the figure shows; :func:`render_png` only draws it."""

    title: str
    x_label: str
    y_label: str
    series: tuple[Series, ...]
    paper_lines: tuple[PaperLine, ...]


def generator_samples(epoch: dict) -> int | None:
    """The samples the (generator) model was trained on in one recorded epoch; None if the
    record does not say. Stage-1 ETEGRec tokenizer epochs count 0 (generator frozen)."""
    if epoch.get("phase") == FROZEN_GENERATOR_PHASE:
        return 0
    samples = epoch.get("samples")
    return None if samples is None else int(samples)


def run_curve(record: dict) -> RunCurve | LeftOut:
    """The curve of ``record`` (a run record dict), or why it has none."""
    method, run_id = record["method"], record["run_id"]
    training = record.get("training", {})
    metric = training.get("selection_metric", METRIC)
    if metric != METRIC:
        return LeftOut(method, run_id, f"validated on {metric}, not {METRIC}")
    epochs = training.get("epochs") or []
    points: list[EpochPoint] = []
    seen: int | None = 0
    for epoch in epochs:
        added = generator_samples(epoch)
        seen = None if seen is None or added is None else seen + added
        valid = epoch.get("valid")
        if valid is not None and seen is None:
            missing = next(e for e in epochs if generator_samples(e) is None)
            return LeftOut(method, run_id, f"no `samples` recorded for {_epoch_name(missing)}: samples seen "
                           "cannot be derived exactly (steps x batch_size over-counts a partial last batch)")
        points.append(EpochPoint(epoch.get("stage"), int(epoch["epoch"]), seen,
                                 None if valid is None else float(valid)))
    if not any(p.valid is not None for p in points):
        return LeftOut(method, run_id, f"no validated epoch (stopped by {training.get('stopped_by', '?')})")
    test = record.get("metrics", {}).get("test", {}).get(METRIC)
    return RunCurve(method, run_id, int(record["seed"]), tuple(points), read_proxy_text(record),
                    None if test is None else float(test))


def current_curves(results_dir: Path, dataset: str, profile: str) -> tuple[list[RunCurve], list[LeftOut]]:
    """The curves of the current records of every method on ``dataset`` at ``profile``,
    sorted by (method, seed), and the current records left out."""
    curves, left_out = [], []
    for runs in current_by_group(load_records(results_dir, dataset=dataset, profile=profile)).values():
        for record in runs:
            outcome = run_curve(record)
            (curves if isinstance(outcome, RunCurve) else left_out).append(outcome)
    return curves, left_out


def paper_lines(numbers: list[ReportedNumber], dataset: str, methods: Sequence[str]) -> dict[str, ReportedNumber]:
    """Method -> the paper's test NDCG@10 on ``dataset`` (full ranking, no setting; the same
    choice among papers as ``REPRODUCTION.md``), for the ``methods`` that have one."""
    chosen = {method: paper_number(numbers, dataset, method, METRIC) for method in methods}
    return {method: number for method, number in chosen.items() if number is not None}


def method_colours(methods: Sequence[str]) -> dict[str, str]:
    """One colour per distinct method, in sorted name order."""
    return {method: COLOURS[i % len(COLOURS)] for i, method in enumerate(sorted(set(methods)))}


def plot_spec(curves: Sequence[RunCurve], papers: dict[str, ReportedNumber], title: str) -> PlotSpec:
    """The figure's lines: a series per curve over its validated epochs with samples seen > 0
    (a log axis has no 0), and a paper line per method in ``papers`` that has a curve."""
    colours = method_colours([c.method for c in curves])
    series, seed_index = [], {}
    for curve in curves:
        index = seed_index[curve.method] = seed_index.get(curve.method, -1) + 1
        shown = [p for p in curve.validated if p.samples_seen and math.isfinite(p.valid)]
        series.append(Series(label=f"{curve.method} seed {curve.seed}", colour=colours[curve.method],
                             marker=MARKERS[index % len(MARKERS)], x=tuple(p.samples_seen for p in shown),
                             y=tuple(p.valid for p in shown)))
    lines = tuple(PaperLine(label=f"{method} paper test {number.value:.4f}", colour=colours[method], y=number.value)
                  for method, number in sorted(papers.items()) if method in colours)
    return PlotSpec(title=title, x_label="training samples seen (log scale)",
                    y_label="validation NDCG@10 (curves) / paper test NDCG@10 (dashed)",
                    series=tuple(series), paper_lines=lines)


def render_png(spec: PlotSpec) -> bytes:
    """The PNG bytes of ``spec`` (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 6))
    for s in spec.series:
        ax.plot(s.x, s.y, color=s.colour, marker=s.marker, markersize=3.5, linewidth=1.2, label=s.label)
    for line in spec.paper_lines:
        ax.axhline(line.y, color=line.colour, linestyle="--", linewidth=1.0, label=line.label)
    ax.set_xscale("log")
    ax.set_xlabel(spec.x_label)
    ax.set_ylabel(spec.y_label)
    ax.set_title(spec.title)
    ax.grid(True, which="both", linewidth=0.3, alpha=0.5)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def curves_csv(curves: Sequence[RunCurve]) -> str:
    """One row per recorded epoch of every curve (``CSV_COLUMNS``); empty cells = unknown."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for curve in curves:
        for p in curve.points:
            writer.writerow([curve.method, curve.run_id, curve.seed, "" if p.stage is None else p.stage, p.epoch,
                             "" if p.samples_seen is None else p.samples_seen,
                             "" if p.valid is None else repr(p.valid)])
    return buffer.getvalue()


def caption_markdown(dataset: str, profile: str, curves: Sequence[RunCurve], papers: dict[str, ReportedNumber],
                     left_out: Sequence[LeftOut]) -> str:
    """The Markdown file: figure, caption, runs, paper lines and left-out records."""
    stem = f"{dataset}-{profile}"
    caption = [
        f"Generated by `python -m runners.curves --dataset {dataset} --profile {profile}` from the run records "
        f"in `results/runs/` (each method's current configuration, newest record per seed); do not edit by "
        f"hand. Data: [{stem}.csv]({stem}.csv).",
        "",
        "Curves: VALIDATION NDCG@10 (full ranking) at each validated epoch, against the training samples the "
        "model had seen by the end of that epoch (log scale). Dashed lines: the paper's TEST NDCG@10 on this "
        "dataset, in the method's colour. Validation and test are different splits, so the gap between a curve "
        "and its line is indicative, not a reproduction check (the test numbers are in `REPRODUCTION.md`).",
        "",
        "A sample is one training target as the record counts it: one (history, target) prefix for the "
        "generative methods, every trained position for SASRec, every masked position for BERT4Rec, so the x "
        "axis compares generative methods with each other, not with the ID baselines. ETEGRec counts the "
        "samples its generator was trained on: stage-1 tokenizer epochs (generator frozen) add none, and stage "
        "2 continues the count.",
    ]
    if profile != "paper":
        caption += ["", f"Profile '{profile}' uses schedules sized for its budget, not the papers'."]
    if any(c.proxy_text for c in curves):
        proxied = sorted({c.method for c in curves if c.proxy_text})
        caption += ["", f"{proxy_text_caption([dataset])} Runs that read it: {', '.join(proxied)}."]
    runs = []
    for c in curves:
        validated = c.validated
        best = max(validated, key=lambda p: p.valid)
        last = validated[-1]
        runs.append([c.method, c.seed, config_id({"run_id": c.run_id}), len(validated),
                     _count(c.points[-1].samples_seen), f"{best.valid:.4f} at {_count(best.samples_seen)}",
                     f"{last.valid:.4f}", "" if c.test is None else f"{c.test:.4f}",
                     "yes" if c.proxy_text else ""])
    sections = ["", "## Runs", "",
                tabulate(runs, headers=["method", "seed", "config", "validations", "samples seen (end)",
                                        "best valid N@10 (at samples)", "last valid N@10", "our test N@10",
                                        "proxy text"], tablefmt="github", disable_numparse=True)]
    shown = sorted(set(c.method for c in curves))
    paper_rows = [[m, f"{papers[m].value:.4f}", f"{papers[m].paper}, {papers[m].table} ({papers[m].source})"]
                  for m in shown if m in papers]
    sections += ["", "## Paper lines (TEST NDCG@10)", ""]
    sections += [tabulate(paper_rows, headers=["method", "paper test N@10", "source"], tablefmt="github",
                          disable_numparse=True)] if paper_rows else ["None of these methods has one."]
    without = [m for m in shown if m not in papers]
    if without and paper_rows:
        sections += ["", f"No reported {METRIC} on {dataset}: {', '.join(without)}."]
    if left_out:
        sections += ["", "## Left out", ""] + [f"* {r.method} `{r.run_id}`: {r.reason}." for r in left_out]
    return "\n".join([f"# Learning curves: {dataset}, profile {profile}", "",
                      f"![Validation NDCG@10 against training samples seen]({stem}.png)", "", *caption,
                      *sections]) + "\n"


def build(results_dir: Path, dataset: str, profile: str) -> tuple[Path, list[LeftOut]]:
    """Write the PNG, CSV and Markdown of ``dataset`` at ``profile``; returns the Markdown path
    and the records left out. Raises GenRecError (and writes nothing) for an unknown dataset or
    when no record has a curve."""
    check_dataset_name(dataset)
    curves, left_out = current_curves(results_dir, dataset, profile)
    if not curves:
        reasons = "".join(f"; {r.method} {r.run_id}: {r.reason}" for r in left_out)
        raise GenRecError(f"no {profile} records with a validation history on {dataset} under "
                          f"{results_dir / 'runs'}{reasons}")
    papers = paper_lines(load_reported(), dataset, [c.method for c in curves])
    spec = plot_spec(curves, papers, f"{dataset}, profile {profile}: validation NDCG@10 vs training samples seen")
    out = results_dir / "curves" / f"{dataset}-{profile}"
    atomic_write_bytes(out.with_suffix(".png"), render_png(spec))
    atomic_write_bytes(out.with_suffix(".csv"), curves_csv(curves).encode())
    markdown = out.with_suffix(".md")
    atomic_write_bytes(markdown, caption_markdown(dataset, profile, curves, papers, left_out).encode())
    return markdown, left_out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runners.curves", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--results-dir", default="results")
    args = parser.parse_args(argv)
    try:
        markdown, left_out = build(Path(args.results_dir), args.dataset, args.profile)
    except GenRecError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for record in left_out:
        print(f"warning: {record.method} {record.run_id} left out of the curves: {record.reason}", file=sys.stderr)
    print(f"written: {markdown.with_suffix('.png')}, {markdown.with_suffix('.csv')}, {markdown}")
    return 0


def _epoch_name(epoch: dict) -> str:
    stage = epoch.get("stage")
    return f"epoch {epoch.get('epoch')}" + ("" if stage is None else f" of stage {stage}")


def _count(samples: int | None) -> str:
    return "?" if samples is None else f"{samples:,}"


if __name__ == "__main__":
    raise SystemExit(main())
