"""One epoch of causal next-item training with cross-entropy over every item.

Shared by the SASRec baseline and by the collaborative item embeddings that LETTER, ETEGRec
and FlexCode tokenize: each user's training sequence is one row; the loss is the softmax
cross-entropy over all items at every non-padded position (one forward pass trains every
prefix, the same targets as RecBole's prefix augmentation).
"""

from __future__ import annotations

import numpy as np
import torch

from genrec_bench.data.types import Sequences
from genrec_bench.modules import SequenceTransformer, fused_linear_cross_entropy
from genrec_bench.training.batching import length_grouped_batches, tail_window
from genrec_bench.training.distributed import shard
from genrec_bench.training.loop import adam_step


def causal_next_item_epoch(net: SequenceTransformer, train_net: torch.nn.Module, train: Sequences, *,
                           max_len: int, batch_size: int, rng: np.random.Generator,
                           optimizer: torch.optim.Optimizer, device: torch.device) -> dict:
    """Train ``net`` for one pass over ``train``; returns ``{"loss", "steps", "samples"}``.

    Args:
        net: the causal transformer whose ``item_embedding`` rows ``1..n_items`` are the
            output layer (tied).
        train_net: ``net`` or its DistributedDataParallel wrapper (what is called forward).
        train: ``[n_users]`` training sequences, items ``1..n_items``.
        max_len: the last ``max_len`` positions of each sequence are trained.
    """
    total, steps, positions = 0.0, 0, 0
    for rows in shard(length_grouped_batches(train.lengths, batch_size, rng)):
        window = torch.from_numpy(tail_window(train, rows, max_len + 1)).to(device)
        inputs, targets = window[:, :-1], window[:, 1:]
        hidden = train_net(inputs)                     # [B, L, d]
        real = targets > 0                             # [B, L]
        # CE over all items at every real position: [P, d] x [n_items, d]
        loss = fused_linear_cross_entropy(hidden[real], net.item_embedding.weight[1:], targets[real] - 1)
        adam_step(optimizer, loss, net.parameters())
        total += loss.item()
        steps += 1
        positions += int(real.sum())
    return {"loss": total / max(steps, 1), "steps": steps, "samples": positions}


def causal_scores_all(net: SequenceTransformer, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """float ``[B, n_items + 1]``: the last real position's hidden state of each left-aligned
    history ``tokens [B, L]`` (``lengths [B]`` real items) dotted with every item embedding."""
    hidden = net(tokens)                                                      # [B, L, d]
    final = hidden[torch.arange(tokens.shape[0], device=tokens.device), lengths - 1]  # [B, d]
    return final @ net.item_embedding.weight.T
