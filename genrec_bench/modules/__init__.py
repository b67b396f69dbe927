"""Neural building blocks shared by several methods."""

from genrec_bench.modules.fused_cross_entropy import fused_linear_cross_entropy
from genrec_bench.modules.sequence_transformer import SequenceTransformer

__all__ = ["SequenceTransformer", "fused_linear_cross_entropy"]
