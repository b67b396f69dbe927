"""Bounded memory: evaluating SASRec and TIGER on the largest dataset here (amazon2018-games,
50,546 users x 16,859 items) stays under the bound stated in the README (1 GiB peak RSS),
because the evaluator ranks users in chunks and the beam search decodes a chunk at a time.
Measured in a fresh process (peak RSS is per process). Games has no item text on these
machines, so TIGER is evaluated with semantic IDs of random vectors and untrained weights
at the cpu-profile size: memory does not depend on either."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BOUND_MB = 1024
SCRIPT = """
import resource, torch
from genrec_bench.data import load_dataset
from genrec_bench.data.split import leave_last_out
from genrec_bench.evaluation import Evaluator
from genrec_bench.modules import SequenceTransformer
from genrec_bench.registry import get_method
splits = leave_last_out(load_dataset("amazon2018-games", {root!r}))
spec = get_method("sasrec"); cfg = spec.make_config("cpu"); model = spec.recommender(cfg)
torch.manual_seed(0)
model.net = SequenceTransformer(n_tokens=splits.n_items + 1, hidden_size=cfg.hidden_size, n_layers=cfg.n_layers,
                                n_heads=cfg.n_heads, inner_size=cfg.inner_size, dropout=cfg.dropout,
                                max_len=cfg.max_len, causal=True)
result = Evaluator(n_items=splits.n_items).evaluate(model, splits.test)
print(len(result.ranks), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


TIGER_SCRIPT = """
import resource, numpy as np, torch
from genrec_bench.data import load_dataset
from genrec_bench.data.split import leave_last_out
from genrec_bench.evaluation import Evaluator
from genrec_bench.generative.semantic_ids import SemanticIds, add_dedup_level
from genrec_bench.generative.seq2seq import SemanticIdSeq2Seq
from genrec_bench.registry import get_method
splits = leave_last_out(load_dataset("amazon2018-games", {root!r}))
codes, dedup = add_dedup_level(np.random.default_rng(0).integers(0, 256, size=(splits.n_items, 3)))
ids = SemanticIds(codes=np.vstack([np.zeros((1, 4), dtype=np.int64), codes]), level_sizes=(256, 256, 256, dedup))
spec = get_method("tiger"); cfg = spec.make_config("cpu"); model = spec.recommender(cfg)
torch.manual_seed(0)
model.seq2seq = SemanticIdSeq2Seq(ids, cfg.generator, torch.device("cpu")); model.model = model.seq2seq.model
result = Evaluator(n_items=splits.n_items).evaluate(model, splits.test)
print(len(result.ranks), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


@pytest.mark.parametrize("method,script", [("sasrec", SCRIPT), ("tiger", TIGER_SCRIPT)])
def test_evaluation_on_games_stays_under_the_memory_bound(method, script, real_data_root):
    if not (real_data_root / "amazon2018-games").is_dir():
        pytest.skip("amazon2018-games not available")
    out = subprocess.run([sys.executable, "-c", script.format(root=str(real_data_root))], cwd=REPO,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    users, peak_mb = out.stdout.split()
    assert int(users) == 50_546
    print(f"\n{method}: peak RSS {float(peak_mb):.0f} MB evaluating {users} Games users")
    assert float(peak_mb) < BOUND_MB, f"{method}: peak RSS {peak_mb} MB"
