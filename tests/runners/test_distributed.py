"""torchrun on the CPU (gloo): training runs on 2 processes, only rank 0 writes, and the
gathered evaluation equals a single-process evaluation of the same weights."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from genrec_bench.data import load_dataset
from genrec_bench.data.split import leave_last_out
from genrec_bench.evaluation import Evaluator

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("method,dataset", [("sasrec", "amazon2018-scientific"), ("tiger", "amazon2018-scientific"),
                                            ("flexcode", "amazon2018-scientific")])
def test_torchrun_two_processes_equals_single_process_evaluation(method, dataset, tmp_path, real_data_root):
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    if torchrun is None:
        pytest.skip("torchrun not installed beside this interpreter")
    out = subprocess.run(
        [torchrun, "--standalone", "--nproc_per_node", "2", "-m", "runners.run", "--method", method,
         "--dataset", dataset, "--profile", "smoke", "--seed", "0", "--results-dir", str(tmp_path),
         "--data-root", str(real_data_root), "--save-model", "--no-progress",
         *(["--set", "text.fields=title"] if method in ("tiger", "flexcode") else []),
         # the smoke codebooks (16 codes, 3 epochs) collapse, and how far depends on the CPU's
         # float kernels: the largest group of items sharing one FlexCode ID on Scientific is
         # 2,065 on an Intel Xeon VM, past the smoke profile's 2,048 disambiguation tokens, so
         # this test (about DDP, not the codebooks) gives the disambiguation level room
         *(["--set", "disambiguation_tokens=8192"] if method == "flexcode" else [])],
        cwd=REPO, capture_output=True, text=True, timeout=900,
        env={**__import__("os").environ, "OMP_NUM_THREADS": "1", "GENREC_CACHE": str(tmp_path / "cache")})
    assert out.returncode == 0, out.stderr[-3000:]
    records = list(tmp_path.glob("runs/*/*/*/record.json"))
    assert len(records) == 1                               # rank 0 alone wrote
    import json

    record = json.loads(records[0].read_text())
    assert record["environment"]["world_size"] == 2
    # a different run from the single-process one (issue 20.8): its id, its command, its batch
    assert record["command"].startswith("torchrun --nproc_per_node 2 -m runners.run ")
    assert record["training"]["world_size"] == 2
    cores = record["environment"]["cpu_count"]            # 2 processes x 1 thread (OMP_NUM_THREADS=1)
    assert [n for n in record["notes"] if "CPU threads" in n] == ([] if cores <= 2 else [
        f"ran with 2 of {cores} CPU threads (2 processes x 1): timings are not those of the whole machine"])
    if "batch_size" in record["config"]:
        assert record["training"]["effective_batch_size"] == 2 * record["config"]["batch_size"]
    from genrec_bench.evaluation import EvalConfig
    from genrec_bench.experiment import run_identity
    from genrec_bench.records.record import config_hash

    settings = EvalConfig(tie_policy=record["evaluation"]["tie_policy"],
                          mask_history=record["evaluation"]["mask_history"])
    assert record["run_id"].endswith(config_hash(run_identity(record["config"], settings, 2)))
    assert not record["run_id"].endswith(config_hash(run_identity(record["config"], settings, 1)))
    model = torch.load(records[0].parent / "model.pt", weights_only=False)
    splits = leave_last_out(load_dataset(dataset, real_data_root))
    single = Evaluator(n_items=splits.n_items).evaluate(model, splits.test)
    with np.load(records[0].parent / "per_user.npz") as data:
        assert np.array_equal(data["test_ranks"], single.ranks)
    assert single.mean("ndcg@10") == record["metrics"]["test"]["ndcg@10"]
