"""Deterministic beam search over semantic IDs, optionally constrained by a prefix trie.

The decoder is any callable ``step(tokens [B, W], parents [B, W] | None) -> log-probs [B, W, V]``
that appends one token to each beam (``parents`` = which previous beam each one continues,
``None`` on the first call with the start token) and returns the next token's log-probabilities;
the T5 generator provides one that runs the encoder once per user, shares its output across
the user's beams and caches self-attention. At every step the candidates of all beams of a user are
scored (``beam score + log p(code)``) and the best ``W`` survive; with a trie, codes that leave
the set of valid item IDs get ``-inf`` before the selection. With ``exclude`` (items a user may not
receive: history masking, other domains), the trie also closes every prefix whose items are all
excluded for that user, so the ``W`` beams end on items the user may receive; without a trie,
excluded items are closed at the last step (through ``code_to_item``). Scores are sequence
log-probabilities under the model (log-softmax over the whole vocabulary, then masking: the
same scores as transformers' ``generate`` with ``prefix_allowed_tokens_fn``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from genrec_bench.generative.trie import PrefixTrie

StepFn = Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]


@dataclass(frozen=True)
class BeamResult:
    """Attributes:
    codes: int64 ``[B, W, L]`` the generated code tuples, best first.
    scores: float ``[B, W]`` their log-probabilities (``-inf`` for empty beams).
    items: int64 ``[B, W]`` the item of each beam (0 = not an item / empty beam).
    """

    codes: torch.Tensor
    scores: torch.Tensor
    items: torch.Tensor


def beam_search(step: StepFn, *, batch_size: int, level_offsets: torch.Tensor | None,
                level_sizes: tuple[int, ...], beam_width: int, trie: PrefixTrie | None,
                code_to_item: Callable[[torch.Tensor], torch.Tensor] | None = None,
                start_token: int = 0, device: torch.device | str = "cpu",
                level_tokens: list[torch.Tensor] | None = None,
                exclude: torch.Tensor | None = None) -> BeamResult:
    """Run the search for ``B`` users at once.

    Args:
        step: appends ``tokens [B, W]`` to the beams ``parents [B, W]`` continue and returns
            next-token log-probabilities ``[B, W, V]``.
        level_offsets: int64 ``[L]``, the token id of code 0 of each level (codes of a level
            are contiguous tokens); ``None`` when ``level_tokens`` is given.
        level_sizes: codes per level.
        level_tokens: per level, int64 ``[level_sizes[l]]`` the token id of every code, for
            vocabularies where a level's codes are not one contiguous range (FlexCode: a
            position holds a collaborative or a semantic code).
        beam_width: beams kept per user (``>=`` the top-K asked for).
        trie: constrain to valid item IDs; ``None`` = unconstrained (then ``code_to_item``
            maps ``[B, W, L]`` codes to items, 0 where the code is no item).
        start_token: the decoder start token.
        exclude: bool ``[B, n_items + 1]`` items each user may not receive (``None`` = none):
            pruned in the trie, or, unconstrained, refused at the last step (codes that are
            no item stay allowed, as without ``exclude``).
    """
    device = torch.device(device)
    depth = len(level_sizes)
    last_tokens = torch.full((batch_size, 1), start_token, dtype=torch.long, device=device)
    parents: torch.Tensor | None = None
    scores = torch.zeros(batch_size, 1, device=device)
    nodes = torch.zeros(batch_size, 1, dtype=torch.long, device=device)   # trie node per beam
    codes = torch.zeros(batch_size, 1, 0, dtype=torch.long, device=device)
    opened = trie.open_nodes(exclude.to(device)) if trie is not None and exclude is not None else None
    for level in range(depth):
        size = level_sizes[level]
        log_probs = step(last_tokens, parents)                            # [B, W, V]
        if level_tokens is None:
            offset = int(level_offsets[level])
            level_lp = log_probs[..., offset:offset + size]               # [B, W, K]
        else:
            level_lp = log_probs.index_select(-1, level_tokens[level])    # [B, W, K]
        if trie is not None:
            children = trie.children[level][nodes.clamp(min=0)]           # [B, W, K]
            closed = (children < 0) | (nodes < 0).unsqueeze(-1)
            if opened is not None:
                reach = opened[level].gather(1, children.clamp(min=0).reshape(batch_size, -1))
                closed |= ~reach.reshape(children.shape)
            level_lp = level_lp.masked_fill(closed, -torch.inf)
        elif exclude is not None and level == depth - 1:
            level_lp = level_lp.masked_fill(_excluded_completions(codes, size, code_to_item, exclude), -torch.inf)
        candidates = (scores.unsqueeze(-1) + level_lp).reshape(batch_size, -1)   # [B, W*K]
        width = min(beam_width, candidates.shape[1])
        scores, flat = torch.topk(candidates, width, dim=1)              # [B, W']
        parent, code = flat // size, flat % size
        codes = torch.cat([codes.gather(1, parent.unsqueeze(-1).expand(-1, -1, codes.shape[2])),
                           code.unsqueeze(-1)], dim=2)
        if trie is not None:
            nodes = children.reshape(batch_size, -1).gather(1, flat)
            nodes = torch.where(torch.isinf(scores), torch.full_like(nodes, -1), nodes)
        last_tokens = code + offset if level_tokens is None else level_tokens[level][code]
        parents = parent
    if trie is not None:
        items = trie.leaf_item[nodes.clamp(min=0)]
        items = torch.where(nodes < 0, torch.zeros_like(items), items)
    else:
        items = code_to_item(codes) if code_to_item is not None else torch.zeros_like(scores, dtype=torch.long)
    return BeamResult(codes=codes, scores=scores, items=items)


def _excluded_completions(codes: torch.Tensor, size: int, code_to_item: Callable[[torch.Tensor], torch.Tensor],
                          exclude: torch.Tensor) -> torch.Tensor:
    """bool ``[B, W, size]``: which last codes complete the beams' prefixes ``codes [B, W, L-1]``
    into an excluded item (``exclude`` bool ``[B, n_items + 1]``; item 0, no item, never is)."""
    batch, width, _ = codes.shape
    last = torch.arange(size, device=codes.device).view(1, 1, size, 1).expand(batch, width, size, 1)
    full = torch.cat([codes.unsqueeze(2).expand(-1, -1, size, -1), last], dim=3)        # [B, W, size, L]
    items = code_to_item(full.reshape(batch, width * size, -1)).reshape(batch, width * size)
    exclude = exclude.to(codes.device)
    hit = exclude.gather(1, items) & (items != 0)
    return hit.reshape(batch, width, size)
