"""The metric columns of the paper tables (Table 1, Table 2, the comparisons) and their headers."""

from __future__ import annotations

#: the metrics every paper table shows, in column order
METRICS = ("recall@5", "ndcg@5", "recall@10", "ndcg@10")
#: the short header of each
SHORT = {"recall@5": "R@5", "ndcg@5": "N@5", "recall@10": "R@10", "ndcg@10": "N@10"}
