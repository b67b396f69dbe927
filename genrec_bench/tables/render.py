"""Render a grid of table cells as Markdown (terminal), LaTeX and CSV.

A ``Cell`` holds what one (method, dataset, metric) shows: our mean over seeds with its
spread, the significance marker, its rank in the column (bold = best, underline = second),
and the paper's number with our/paper ratio.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from tabulate import tabulate


@dataclass(frozen=True)
class Cell:
    ours: float | None = None
    std: float | None = None
    n_seeds: int = 0
    worse_than_best: bool = False   # significantly below the column's best after correction
    place: int | None = None        # 1 = best, 2 = second among our measured values
    paper: float | None = None

    def text(self, style: str) -> str:
        parts = []
        if self.ours is not None:
            value = f"{self.ours:.4f}"
            if self.n_seeds > 1 and self.std is not None:
                value += f"±{self.std:.4f}"
            if self.worse_than_best:
                value += "*"
            if self.place == 1:
                value = f"**{value}**" if style == "markdown" else rf"\textbf{{{value}}}"
            elif self.place == 2:
                value = f"<u>{value}</u>" if style == "markdown" else rf"\underline{{{value}}}"
            parts.append(value.replace("±", r"$\pm$") if style == "latex" else value)
        if self.paper is not None:
            ratio = f", {self.ours / self.paper:.2f}x" if self.ours is not None and self.paper else ""
            parts.append(f"({self.paper:.4f}{ratio})" if self.ours is not None else f"[{self.paper:.4f}]")
        return " ".join(parts) if parts else "–"


def render(rows: list[tuple[str, list[Cell]]], headers: list[str], style: str) -> str:
    """``rows`` = (row label, cells) in column order; ``style`` = markdown | latex | csv."""
    if style == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["method"] + [f"{h} {part}" for h in headers for part in ("ours", "std", "n_seeds", "significantly_below_best", "paper")])
        for label, cells in rows:
            writer.writerow([label] + [v for c in cells for v in (
                "" if c.ours is None else repr(c.ours), "" if c.std is None else repr(c.std), c.n_seeds,
                c.worse_than_best, "" if c.paper is None else repr(c.paper))])
        return buffer.getvalue()
    table = [[label] + [c.text(style) for c in cells] for label, cells in rows]
    fmt = "github" if style == "markdown" else "latex_raw"
    return tabulate(table, headers=["Method", *headers], tablefmt=fmt, disable_numparse=True)


def write_table_files(rows: list[tuple[str, list[Cell]]], headers: list[str], caption: str, out_dir,
                      stem: str, markdown_sections: str = "") -> str:
    """Write ``<stem>.md`` (table + caption + ``markdown_sections``), ``.tex`` (caption as
    comments) and ``.csv`` under ``out_dir`` atomically; returns the Markdown text."""
    from pathlib import Path

    from genrec_bench.records.atomic import atomic_write_bytes

    markdown = f"{render(rows, headers, 'markdown')}\n\n{caption}\n" + markdown_sections
    for style, suffix in (("markdown", "md"), ("latex", "tex"), ("csv", "csv")):
        if style == "markdown":
            body = markdown
        elif style == "latex":   # every caption line a comment, so the file compiles as is
            body = "".join(f"% {line}\n" for line in caption.splitlines()) + f"{render(rows, headers, style)}\n"
        else:
            body = render(rows, headers, style)
        atomic_write_bytes(Path(out_dir) / f"{stem}.{suffix}", body.encode())
    return markdown.rstrip("\n")
