"""The top-level ``datasets/`` folder (dataset cards) must never pose as Hugging Face datasets."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_from_root(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)


def test_datasets_folder_holds_no_python():
    assert not list((REPO / "datasets").glob("*.py"))


def test_transformers_does_not_mistake_the_cards_folder_for_hf_datasets():
    out = run_from_root(
        "import importlib.util, runners.run, transformers.utils as u\n"
        "spec = importlib.util.find_spec('datasets')\n"
        "assert spec is None or spec.origin not in (None, 'namespace'), spec\n"
        "installed = spec is not None\n"
        "assert u.is_datasets_available() == installed\n"
        "import sentence_transformers\n"
        "print('ok')\n")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("ok")
