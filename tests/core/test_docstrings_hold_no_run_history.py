"""Docstrings and comments of the methods say what the code does and what it assumes; the
history of runs (record ids, measured scores, "was X" stories, timings of particular runs)
belongs in ``docs/methods/<name>.md``, where readers look for it (issue 21, item 5).

Checked: every docstring (module, class, function) and every comment of ``methods/*.py`` and
``baselines/*.py``. Reasons for a default ("validation every 8 epochs keeps it under 10 % of
the fit") stay allowed; the patterns below catch what only a run can tell.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("methods", "baselines")

#: (what it catches, pattern); each is searched in one docstring or comment at a time
HISTORY_PATTERNS = (
    ("a run id (open the record in docs/methods/ instead)",
     re.compile(r"\b(?:cpu|paper|smoke)-seed\d+-[0-9a-f]{10}\b")),
    ("a measured metric value",
     re.compile(r"(?i)\b(?:ndcg|recall|hr|hit|mrr)@\d+\b[^.;\n]{0,40}?[+-]?\b0\.\d{3,}")),
    ("a run's history (\"was <number>\", \"the full run\", \"record ... stopped\")",
     re.compile(r"(?i)\bwas\s+[+-]?\d[\d.,]*|\bthe full run\b|\brecords?\b[^.;\n]{0,60}\bstopped\b")),
    ("the measured duration of a run",
     re.compile(r"(?i)\b\d+(?:\.\d+)?\s*(?:min|minutes|h|hours)\b[^.;\n]{0,40}\bmeasured\b")),
)


def texts(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every docstring and every comment of ``path``."""
    source = path.read_text()
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                found.append((body[0].lineno, body[0].value.value))
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            found.append((token.start[0], token.string))
    return found


def flattened(text: str) -> tuple[str, list[tuple[int, int]]]:
    """``text`` with every run of whitespace as one space (a phrase may wrap across docstring
    lines), and (offset in it, line offset in ``text``) of every word."""
    words = [(m.group(0), text.count("\n", 0, m.start())) for m in re.finditer(r"\S+", text)]
    starts, offset = [], 0
    for word, line in words:
        starts.append((offset, line))
        offset += len(word) + 1
    return " ".join(word for word, _ in words), starts


def history_findings(path: Path) -> list[str]:
    """``file:line: what: the matching text`` for every history pattern found in ``path``."""
    findings = []
    for line, text in texts(path):
        flat, starts = flattened(text)
        for what, pattern in HISTORY_PATTERNS:
            for match in pattern.finditer(flat):
                at = line + max(row for start, row in starts if start <= match.start())
                findings.append(f"{path.relative_to(ROOT)}:{at}: {what}: {match.group(0)!r}")
    return findings


def scanned_files() -> list[Path]:
    return sorted(p for folder in SCANNED for p in (ROOT / folder).glob("*.py"))


def test_the_scan_covers_the_methods_and_baselines():
    names = {p.stem for p in scanned_files()}
    assert {"tiger", "letter", "etegrec", "flexcode", "gencdr", "sasrec", "bert4rec", "popularity"} <= names


@pytest.mark.parametrize("text", [
    "Measured on Beauty (records ``cpu-seed0-ca5dd4f726`` text only)",
    "validation NDCG@10 0.0144 vs 0.0138 after 20-minute runs",
    "they changed test NDCG@10 by +0.0001",
    "the weighted ``L_CF`` was 99.5 % of the loss",
    "the full run with this profile stopped by patience at epoch 100",
    "the Beauty record, which stopped by patience",
    "2-core CPU budget (89 min on Beauty at one thread, measured)",
])
def test_the_patterns_catch_run_history(text):
    assert any(pattern.search(text) for _, pattern in HISTORY_PATTERNS)


@pytest.mark.parametrize("text", [
    "validation every 8 epochs keeps validation under 10 % of the fit",
    "early stopping on validation NDCG@10 computed by the suite's evaluator",
    "official patience 15 validations every 2 epochs, beam 20",
    "stage 2 (at most 30 epochs or 20 min) validated every 2 epochs",
    "Measured runs: ``docs/methods/tiger.md`` and the records under ``results/runs/*/tiger/``.",
])
def test_the_patterns_leave_reasons_and_assumptions_alone(text):
    assert not any(pattern.search(text) for _, pattern in HISTORY_PATTERNS)


def test_docstrings_and_comments_hold_no_run_history():
    findings = [f for path in scanned_files() for f in history_findings(path)]
    assert not findings, ("run history in docstrings or comments; move it to docs/methods/<name>.md:\n"
                          + "\n".join(findings))
