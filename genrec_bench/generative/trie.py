"""A prefix trie over item semantic IDs, stored as dense per-depth transition tables.

``children[d][node, code]`` is the id of the depth-``d+1`` node reached from depth-``d``
``node`` by ``code`` (``-1`` = not a valid continuation). Beam search reads the allowed
codes of a whole batch of beams with one gather per step: no Python callbacks per beam.
Leaves map back to items through ``leaf_item``.
"""

from __future__ import annotations

from dataclasses import dataclass

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

    def to(self, device: torch.device | str) -> PrefixTrie:
        return PrefixTrie([c.to(device) for c in self.children], self.leaf_item.to(device), self.level_sizes)
