"""Bounded memory: evaluating SASRec on the largest dataset here (amazon2018-games, 50,546
users x 16,859 items) stays under the bound stated in the README (1 GiB peak RSS), because
the evaluator ranks users in chunks. Measured in a fresh process (peak RSS is per process)."""

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


def test_sasrec_evaluation_on_games_stays_under_the_memory_bound(real_data_root):
    if not (real_data_root / "amazon2018-games").is_dir():
        pytest.skip("amazon2018-games not available")
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(root=str(real_data_root))], cwd=REPO,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    users, peak_mb = out.stdout.split()
    assert int(users) == 50_546
    assert float(peak_mb) < BOUND_MB, f"peak RSS {peak_mb} MB"
