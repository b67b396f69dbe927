"""A prefix trie over item semantic IDs, stored as dense per-depth transition tables.

``children[d][node, code]`` is the id of the depth-``d+1`` node reached from depth-``d``
``node`` by ``code`` (``-1`` = not a valid continuation). Beam search reads the allowed
codes of a whole batch of beams with one gather per step: no Python callbacks per beam.
Leaves map back to items through ``leaf_item``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch


@dataclass(frozen=True)
class PrefixTrie:
    """Attributes:
    children: per depth ``d``, int64 ``[n_nodes(d), level_sizes[d]]``.
    leaf_item: int64 ``[n_nodes(L)]`` item id of every leaf.
    level_sizes: codes per level.
    """

    children: list[torch.Tensor]
    leaf_item: torch.Tensor
    level_sizes: tuple[int, ...]

    @classmethod
    def build(cls, codes: np.ndarray, level_sizes: tuple[int, ...], items: np.ndarray | None = None) -> PrefixTrie:
        """Trie over ``codes`` (int64 ``[n, L]``) of ``items`` (default ``1..n``).

        A code tuple shared by several items is an error: the trie must map leaves to items.
        """
        n, depth = codes.shape
        items = np.arange(1, n + 1) if items is None else np.asarray(items)
        node = np.zeros(n, dtype=np.int64)          # every item starts at the root
        children = []
        for d in range(depth):
            # nodes of depth d+1 = distinct (parent node, code) pairs
            key = node * level_sizes[d] + codes[:, d]
            uniq, child = np.unique(key, return_inverse=True)
            n_parents = int(node.max()) + 1 if n else 1
            table = np.full((n_parents, level_sizes[d]), -1, dtype=np.int64)
            table[uniq // level_sizes[d], uniq % level_sizes[d]] = np.arange(uniq.shape[0])
            children.append(torch.from_numpy(table))
            node = child.reshape(-1)
        if np.unique(node).shape[0] != n:
            raise ValueError("several items share one semantic ID; add a disambiguation level first")
        leaf_item = np.zeros(n, dtype=np.int64)
        leaf_item[node] = items
        return cls(children=children, leaf_item=torch.from_numpy(leaf_item), level_sizes=tuple(level_sizes))

    @property
    def depth(self) -> int:
        return len(self.children)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """Items of code tuples ``[..., L]`` (int64 ``[...]``; 0 where no item has that ID):
        what an unconstrained decoder's beams map to."""
        node = torch.zeros(codes.shape[:-1], dtype=torch.long, device=codes.device)
        for level in range(codes.shape[-1]):
            node = torch.where(node >= 0, self.children[level][node.clamp(min=0), codes[..., level]], node)
        return torch.where(node >= 0, self.leaf_item[node.clamp(min=0)], torch.zeros_like(node))

    @cached_property
    def parents(self) -> list[torch.Tensor]:
        """Per depth ``d`` (``0..L-1``), int64 ``[n_nodes(d + 1)]`` the depth-``d`` parent of
        every depth-``d + 1`` node (read off ``children``; computed once)."""
        parents = []
        for d, table in enumerate(self.children):
            n_nodes = self.leaf_item.shape[0] if d == self.depth - 1 else self.children[d + 1].shape[0]
            rows = torch.arange(table.shape[0], device=table.device).repeat_interleave(table.shape[1])
            flat = table.reshape(-1)
            parent = torch.zeros(n_nodes, dtype=torch.long, device=table.device)
            parent[flat[flat >= 0]] = rows[flat >= 0]
            parents.append(parent)
        return parents

    def open_nodes(self, exclude: torch.Tensor) -> list[torch.Tensor]:
        """Per depth ``d`` (``0..L-1``), bool ``[B, n_nodes(d + 1)]``: whether a depth-``d + 1``
        node still leads to an item outside ``exclude`` (bool ``[B, n_items + 1]``, on the
        trie's device), so that beam search can prune, per user, every prefix whose items
        are all excluded. Costs ``B x (number of nodes)`` counts."""
        exclude = exclude.to(self.leaf_item.device)
        counts = (~exclude.gather(1, self.leaf_item.unsqueeze(0).expand(exclude.shape[0], -1))).float()
        opened = [counts > 0]
        for d in range(self.depth - 1, 0, -1):     # float sums of 0/1 are exact below 2**24 items
            counts = torch.zeros(exclude.shape[0], self.children[d].shape[0], device=exclude.device) \
                .index_add_(1, self.parents[d], counts)
            opened.append(counts > 0)
        return opened[::-1]

    def to(self, device: torch.device | str) -> PrefixTrie:
        return PrefixTrie([c.to(device) for c in self.children], self.leaf_item.to(device), self.level_sizes)
