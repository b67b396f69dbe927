"""Cross-entropy over a large item catalogue without materialising the full logit matrix.

``loss = mean_p CE(h_p @ W^T, y_p)`` for ``h [P, d]``, ``W [N, d]``: the logits are computed in
row chunks that stay in cache, and the gradients with respect to ``h`` and ``W`` are formed in
the same pass (the loss is a scalar, so they only need rescaling by the incoming gradient).
The result equals ``F.cross_entropy(h @ W.T, y)`` (tests check values and gradients); on a
2-core CPU it is several times faster for SASRec-sized inputs because the ``[P, N]`` logit
matrix never travels through main memory (measured in ``tests/benchmarks``).
"""

from __future__ import annotations

import torch


class _FusedLinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor,
                chunk_size: int) -> torch.Tensor:
        n_rows = hidden.shape[0]
        grad_hidden = torch.empty_like(hidden)
        grad_weight = torch.zeros_like(weight)
        total = hidden.new_zeros((), dtype=torch.float64)
        weight_t = weight.T.contiguous()
        for start in range(0, n_rows, chunk_size):
            h = hidden[start:start + chunk_size]
            y = targets[start:start + chunk_size]
            logits = h @ weight_t                                   # [c, N]
            lse = torch.logsumexp(logits, dim=1)                    # [c]
            rows = torch.arange(h.shape[0], device=h.device)
            total += (lse - logits[rows, y]).sum(dtype=torch.float64)
            probs = logits.sub_(lse.unsqueeze(1)).exp_()            # softmax, in place
            probs[rows, y] -= 1.0                                   # d CE / d logits
            grad_hidden[start:start + chunk_size] = probs @ weight
            grad_weight.addmm_(probs.T, h)
        scale = 1.0 / max(n_rows, 1)
        ctx.save_for_backward(grad_hidden.mul_(scale), grad_weight.mul_(scale))
        return (total * scale).to(hidden.dtype)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        grad_hidden, grad_weight = ctx.saved_tensors
        return grad_hidden * grad_output, grad_weight * grad_output, None, None


def fused_linear_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor,
                               chunk_size: int = 256) -> torch.Tensor:
    """Mean cross-entropy of ``hidden @ weight.T`` against ``targets``.

    Args:
        hidden: float ``[P, d]``.
        weight: float ``[N, d]`` (e.g. the item embedding table without its padding row).
        targets: int64 ``[P]`` in ``0..N-1``.
        chunk_size: rows of logits computed at once (``chunk_size x N`` floats in flight).
    Returns:
        a scalar tensor.
    """
    return _FusedLinearCrossEntropy.apply(hidden, weight, targets, chunk_size)
