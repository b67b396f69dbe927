"""GenCDR's efficiency study (Hu et al. 2025, Figures 5 and 6), measured here.

    python -m runners.gencdr_efficiency [--dataset amazon2014-beauty+amazon2014-sports] [--profile cpu]
        [--steps N] [--pools 1000,2000,5000,10000,20000] [--users 256] [--out results/efficiency]

1. **LoRA vs full fine-tuning of the same backbone** (Figure 5): GenCDR's decoder-only LM at
   the profile's size, vocabulary sized for the dataset's items, trained for ``--steps``
   AdamW steps on real training windows of the dataset, (a) with every parameter trainable,
   (b) as GenCDR's phase 1: base frozen, the profile's universal LoRA experts trained.
   Reported: trainable and total parameters (peft's count beside ours for LoRA), median
   seconds per step after 2 warm-up steps, peak memory.
2. **Inference cost as the item pool grows** (Figure 6): for every pool size, GenCDR's
   trie-constrained decode (universal + domain model mixed by the user router), TIGER's
   T5 beam search over its trie and SASRec's full-catalogue scoring + top-k, at the
   profile's model sizes, for the same ``--users`` random 20-item histories. Reported:
   milliseconds per user (median over ``--repeats`` passes after a warm-up call) and peak
   memory.

Every configuration (each training mode, each method x pool) runs in its own fresh process
(a ``forkserver`` child, else ``spawn``); its peak memory is the growth of that process's
``ru_maxrss`` over its baseline after imports and data preparation. Weights are random:
cost does not depend on their values (``methods/gencdr_probes.py`` says exactly
what is built and what is left out). The paper measures GPU memory of Qwen2.5 backbones;
this measures CPU RSS of the suite's small models, so compare shapes of curves, not values.

Writes ``<out>/gencdr-efficiency-<dataset>-<profile>.json`` (every raw measurement, the
command, settings, environment), ``.md`` (tables) and ``.png`` (plots), atomically.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import multiprocessing
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tabulate import tabulate

from genrec_bench.errors import GenRecError
from genrec_bench.records.atomic import atomic_write_bytes, atomic_write_json
from methods.gencdr_probes import METHODS, MODES, DecodeProbe, TrainProbe, run_probe

PROFILES = ("smoke", "cpu", "paper")
HISTORY = 20  #: items per user history in the decoding study
TOP_K = 20
LABELS = {"gencdr": "GenCDR", "tiger": "TIGER", "sasrec": "SASRec", "full": "full fine-tuning", "lora": "LoRA (GenCDR)"}
COLORS = {"gencdr": "#c44e52", "tiger": "#4c72b0", "sasrec": "#55a868", "full": "#8172b2", "lora": "#c44e52"}
#: imported once by the forkserver, so each fresh child starts in milliseconds
PRELOAD = ["torch", "transformers", "peft", "transformers.models.qwen2.modeling_qwen2",
           "transformers.models.t5.modeling_t5", "methods.gencdr", "methods.tiger", "baselines.sasrec",
           "genrec_bench.data.catalog", "methods.gencdr_probes"]


RANDOM_WEIGHTS = ("Weights are random (untrained): GenCDR's LM, LoRA adapters and user router, TIGER's T5 and "
                  "SASRec's Transformer are freshly initialised and the semantic IDs are random codes of each "
                  "method's level sizes; training and decoding cost do not depend on the values.")


class ProbeError(GenRecError):
    """A measurement process failed or died."""


@dataclass(frozen=True)
class StudySettings:
    """Attributes:
    dataset: dataset (``a+b`` for several domains) whose training windows train the LM.
    profile: model sizes of every method (``smoke``, ``cpu``, ``paper``).
    steps: training steps per mode (>= 3: 2 warm-up steps are not timed).
    pools: catalogue sizes of the decoding study.
    users: histories decoded per (method, pool).
    repeats: timed decoding passes per (method, pool); the median is reported.
    threads: torch threads per measuring process (None = torch's default).
    seed: codes, histories, windows and weights.
    data_root: the data folder (None = ``$GENREC_DATA`` or ``../shared/data``).
    out: output folder.
    """

    dataset: str
    profile: str
    steps: int
    pools: tuple[int, ...]
    users: int
    repeats: int
    threads: int | None
    seed: int
    data_root: str | None
    out: str

    def stem(self) -> Path:
        return Path(self.out) / f"gencdr-efficiency-{self.dataset}-{self.profile}"


# ----------------------------------------------------------------------------- command line


def pool_list(text: str) -> tuple[int, ...]:
    """``"1000,2000"`` -> ``(1000, 2000)``: distinct positive ints, sorted."""
    values = []
    for part in text.split(","):
        part = part.strip()
        try:
            value = int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated positive item counts, e.g. 1000,2000; {part!r} is not an integer") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"item pool sizes must be >= 1, got {value}")
        values.append(value)
    return tuple(sorted(set(values)))


def int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    parse.__name__ = f"int >= {low}"
    return parse


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m runners.gencdr_efficiency", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="amazon2014-beauty+amazon2014-sports",
                   help="training windows come from this dataset ('+' joins domains)")
    p.add_argument("--profile", default="cpu", choices=PROFILES, help="model sizes of every method")
    p.add_argument("--steps", type=int_at_least(3), default=20,
                   help="training steps per mode; the first 2 are warm-up (default 20)")
    p.add_argument("--pools", type=pool_list, default=(1000, 2000, 5000, 10000, 20000),
                   help="comma-separated item pool sizes (default 1000,2000,5000,10000,20000)")
    p.add_argument("--users", type=int_at_least(1), default=256, help="histories decoded per method and pool")
    p.add_argument("--repeats", type=int_at_least(1), default=3, help="timed decoding passes (median reported)")
    p.add_argument("--threads", type=int_at_least(1), default=None,
                   help="torch threads per measuring process (default: torch's default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-root", default=None)
    p.add_argument("--out", default="results/efficiency", help="output folder")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    settings = StudySettings(dataset=args.dataset, profile=args.profile, steps=args.steps, pools=args.pools,
                             users=args.users, repeats=args.repeats, threads=args.threads, seed=args.seed,
                             data_root=args.data_root, out=args.out)
    try:
        from genrec_bench.data.catalog import check_dataset_name

        check_dataset_name(settings.dataset)
        study = run_study(settings, command=shlex.join(["python", "-m", "runners.gencdr_efficiency", *argv]))
    except GenRecError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    paths = write_outputs(study, settings.stem())
    print(training_table(study), inference_table(study), sep="\n\n")
    print(f"\nwritten: {', '.join(str(p) for p in paths)}")
    return 0


# ----------------------------------------------------------------------------- measuring


def _context():
    """A multiprocessing context whose children are fresh processes."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


def in_fresh_process(probe: TrainProbe | DecodeProbe) -> dict:
    """Run ``probe`` in a new process and return its measurements."""
    ctx = _context()
    receive, send = ctx.Pipe(duplex=False)
    process = ctx.Process(target=run_probe, args=(probe, send), name=f"gencdr-efficiency {probe.label()}")
    process.start()
    send.close()
    try:
        status, payload = receive.recv()
    except EOFError:
        process.join()
        raise ProbeError(f"{probe.label()}: its process ended without a result (exit code "
                         f"{process.exitcode}; killed for memory?)") from None
    finally:
        receive.close()
    process.join()
    if status != "ok":
        raise ProbeError(f"{probe.label()} failed in its process:\n{payload}")
    return payload


def run_study(settings: StudySettings, *, command: str) -> dict:
    import torch

    from genrec_bench.records.environment import capture_environment

    started = time.perf_counter()
    environment = capture_environment(torch.device("cpu"))   # the code as it is when the study starts
    training = {}
    for mode in MODES:
        print(f"measuring {LABELS[mode]} ({settings.steps} steps) ...", flush=True)
        training[mode] = in_fresh_process(TrainProbe(mode=mode, dataset=settings.dataset, data_root=settings.data_root,
                                                     profile=settings.profile, steps=settings.steps,
                                                     seed=settings.seed, threads=settings.threads))
    inference = []
    for pool in settings.pools:
        for method in METHODS:
            print(f"measuring {LABELS[method]} decoding over {pool} items ...", flush=True)
            inference.append(in_fresh_process(DecodeProbe(
                method=method, pool=pool, users=settings.users, history=HISTORY, profile=settings.profile,
                top_k=TOP_K, repeats=settings.repeats, seed=settings.seed, threads=settings.threads)))
    threads = sorted({m["torch_threads"] for m in [*training.values(), *inference]})
    environment["parent_torch_threads"] = environment["torch_threads"]
    environment["torch_threads"] = threads[0] if len(threads) == 1 else threads
    note = (f"{RANDOM_WEIGHTS} Every configuration ran in its own fresh process with "
            f"{environment['torch_threads']} torch thread(s) on a {environment['cpu_count']}-CPU machine "
            f"({environment['processor']}); peak memory is the growth of that process's ru_maxrss over its "
            f"baseline after imports and data preparation.")
    study = {
        "study": "GenCDR efficiency (Hu et al. 2025, Figures 5 and 6)",
        "command": command,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "settings": {**asdict(settings), "pools": list(settings.pools), "history": HISTORY, "top_k": TOP_K},
        "note": note,
        "random_weights": True,
        "environment": environment,
        "training": training,
        "inference": inference,
        "elapsed_s": time.perf_counter() - started,
    }
    return study


# ----------------------------------------------------------------------------- outputs


def training_table(study: dict) -> str:
    rows = []
    for mode, m in study["training"].items():
        rows.append([LABELS[mode], m["trainable_parameters"], m["total_parameters"],
                     100.0 * m["trainable_parameters"] / m["total_parameters"], m["s_per_step_median"],
                     m["peak_rss_mb"]])
    return tabulate(rows, headers=["mode", "trainable params", "total params", "trainable %", "s/step (median)",
                                   "peak MB"], tablefmt="github", floatfmt=".4g", intfmt=",")


def inference_table(study: dict) -> str:
    cell = {(m["method"], m["pool"]): m for m in study["inference"]}
    pools = sorted({m["pool"] for m in study["inference"]})
    rows = [[pool, *[cell[(method, pool)]["ms_per_user"] for method in METHODS],
             *[cell[(method, pool)]["peak_rss_mb"] for method in METHODS]] for pool in pools]
    headers = ["items", *[f"{LABELS[m]} ms/user" for m in METHODS], *[f"{LABELS[m]} peak MB" for m in METHODS]]
    return tabulate(rows, headers=headers, tablefmt="github", floatfmt=".4g", intfmt=",")


def caption(study: dict) -> str:
    s, env = study["settings"], study["environment"]
    code = env["code"]
    commit = (code.get("commit") or "unknown")[:12] + (" (uncommitted changes)" if code.get("dirty") else "")
    full, lora = study["training"]["full"], study["training"]["lora"]
    decode = study["inference"][0]
    return (f"GenCDR efficiency study (paper Figures 5 and 6) on `{s['dataset']}`, profile `{s['profile']}`. "
            f"Training: GenCDR's LM ({full['generator']['layers']} layer(s), hidden {full['generator']['hidden_size']}, "
            f"vocabulary {full['vocab_size']}), {s['steps']} AdamW steps of batch {full['batch_size']} real training "
            f"windows per mode, median s/step after {full['warmup_steps']} warm-up steps; LoRA = "
            f"{len(lora['adapters_trained'])} universal experts, r {lora['lora_r']}, alpha {lora['lora_alpha']}. "
            f"Inference: {s['users']} users with {s['history']}-item random histories, top-{s['top_k']} "
            f"(beam {decode.get('beam_width', s['top_k'])} for the generative methods), median ms/user over "
            f"{s['repeats']} pass(es). Peak MB = growth of ru_maxrss over the process's baseline, each "
            f"configuration in its own fresh process. Machine: {env['processor']}, {env['cpu_count']} CPUs, "
            f"{env['torch_threads']} torch thread(s), torch {env['packages'].get('torch')}, commit {commit}. "
            f"{RANDOM_WEIGHTS}")


def write_outputs(study: dict, stem: Path) -> list[Path]:
    """Write ``<stem>.json``, ``.md`` and ``.png`` atomically; return their paths."""
    json_path, md_path, png_path = (stem.with_name(stem.name + ext) for ext in (".json", ".md", ".png"))
    atomic_write_json(json_path, study)
    markdown = (f"# GenCDR efficiency: {study['settings']['dataset']}, profile {study['settings']['profile']}\n\n"
                f"{caption(study)}\n\n## Training: LoRA vs full fine-tuning (Figure 5)\n\n"
                f"{training_table(study)}\n\n## Inference vs item pool size (Figure 6)\n\n"
                f"{inference_table(study)}\n\nCommand: `{study['command']}`\n")
    atomic_write_bytes(md_path, markdown.encode())
    atomic_write_bytes(png_path, plot(study))
    return [json_path, md_path, png_path]


def plot(study: dict) -> bytes:
    """PNG bytes: left, LoRA vs full fine-tuning bars; right, decoding cost vs pool size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    env, settings = study["environment"], study["settings"]
    fig = plt.figure(figsize=(17, 4.8), layout="constrained")
    fig.suptitle(f"GenCDR efficiency: {settings['dataset']}, profile {settings['profile']}; random weights; "
                 f"{env['processor']}, {env['torch_threads']} torch thread(s)", fontsize=10)
    left, right = fig.subfigures(1, 2, width_ratios=[3, 2.3])
    modes = list(study["training"])
    for ax, (key, title) in zip(left.subplots(1, 3), (("trainable_parameters", "trainable parameters (log)"),
                                                      ("s_per_step_median", "seconds per step (median)"),
                                                      ("peak_rss_mb", "peak memory growth (MB)")), strict=True):
        values = [study["training"][m][key] for m in modes]
        bars = ax.bar([LABELS[m] for m in modes], values, color=[COLORS[m] for m in modes])
        ax.bar_label(bars, labels=[f"{v:,.0f}" if key == "trainable_parameters" else f"{v:.3g}" for v in values])
        if key == "trainable_parameters":
            ax.set_yscale("log")
            ax.set_ylim(1, 10 * max(values))
        else:
            ax.set_ylim(0, 1.15 * max(values))
        ax.set_title(title)
    left.suptitle("Training: LoRA vs full fine-tuning of GenCDR's LM")
    pools = sorted({m["pool"] for m in study["inference"]})
    for ax, (key, title) in zip(right.subplots(1, 2), (("ms_per_user", "ms per user"),
                                                       ("peak_rss_mb", "peak memory growth (MB)")), strict=True):
        for method in METHODS:
            by_pool = {m["pool"]: m[key] for m in study["inference"] if m["method"] == method}
            ax.plot(pools, [by_pool[p] for p in pools], marker="o", color=COLORS[method], label=LABELS[method])
        if len(pools) > 1 and pools[-1] / pools[0] >= 10:
            ax.set_xscale("log")
        ax.set_ylim(0, 1.15 * max(m[key] for m in study["inference"]))
        ax.set_xlabel("items in the pool")
        ax.set_title(title)
        ax.legend()
    right.suptitle("Inference vs item pool size")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


if __name__ == "__main__":
    raise SystemExit(main())
