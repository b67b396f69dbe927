"""The one interface every method implements, and the containers it exchanges.

A method is a subclass of :class:`Recommender` registered with
:func:`genrec_bench.registry.register_method`. It is constructed from its typed config, is
fitted on the training split (it may ask a :class:`~genrec_bench.evaluation.Validator` for
validation scores to select epochs, but never computes a metric itself), and answers
``recommend(histories, k)`` with top-k item ids and scores. Methods that can score the whole
catalogue exactly also implement ``score_all``; the evaluator then ranks every item.

When the evaluation removes items from a user's ranking (``--mask-history``, ``--candidates
user-domain``), the evaluator calls ``recommend(histories, k, exclude=mask)`` on methods whose
``recommend`` accepts the ``exclude`` keyword, so that they return ``k`` items the user may
receive (a trie-constrained decoder prunes excluded items in the trie). Methods without the
keyword are called as before; the evaluator then removes excluded items from their lists,
which may leave fewer than ``k`` (counted as empty slots in the record).
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from genrec_bench.data.types import Sequences

if TYPE_CHECKING:
    from genrec_bench.data.split import SequenceSplits
    from genrec_bench.evaluation.validator import Validator


@dataclass(frozen=True)
class HistoryBatch:
    """The histories of a batch of users, as the evaluator hands them to a method.

    Attributes:
        users: int64 ``[B]`` user indices (into the dataset).
        sequences: ``B`` chronological item sequences (items ``1..n_items``).
    """

    users: np.ndarray
    sequences: Sequences

    def __len__(self) -> int:
        return int(self.users.shape[0])

    def padded(self, max_len: int, *, align: str = "left", device: torch.device | str = "cpu") -> torch.Tensor:
        """int64 ``[B, L]`` of each user's last ``max_len`` items, padded with 0, where
        ``L = min(max_len, longest history in the batch)`` (no all-padding columns).

        ``align="left"`` starts each row at column 0 (padding at the end);
        ``align="right"`` ends each row at the last column.
        """
        width = max(1, min(max_len, int(self.sequences.lengths.max(initial=1))))
        return torch.from_numpy(self.sequences.padded(width, align=align)).to(device)

    def lengths(self, max_len: int | None = None, device: torch.device | str = "cpu") -> torch.Tensor:
        """int64 ``[B]``: history lengths, capped at ``max_len`` when given."""
        lengths = self.sequences.lengths
        if max_len is not None:
            lengths = np.minimum(lengths, max_len)
        return torch.from_numpy(lengths).to(device)


@dataclass(frozen=True)
class TopK:
    """A method's answer for a batch.

    Attributes:
        items: int64 ``[B, k]`` item ids, best first (``0`` = no item, e.g. fewer valid beams).
        scores: float ``[B, k]`` the method's scores, non-increasing along each row.
    """

    items: torch.Tensor
    scores: torch.Tensor


@dataclass
class FitReport:
    """What ``fit`` tells the runner: per-epoch history and the selected epoch.

    Attributes:
        epochs: one dict per epoch (loss, validation metric, seconds, ...).
        best_epoch: the epoch whose weights were restored (``None`` if not applicable).
        best_valid: the validation metric value of that epoch.
        stopped_by: why training ended: ``"patience"``, ``"max_epochs"``, ``"time_budget"``
            or ``"not_trainable"``.
        extra: method-specific facts worth recording (e.g. tokenizer diagnostics).
        notes: what a reader of the record must know about this result (e.g. a small
            stand-in model for the paper's backbone); the runner adds them to the record's notes.
    """

    epochs: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int | None = None
    best_valid: float | None = None
    stopped_by: str = "not_trainable"
    extra: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class Recommender(ABC):
    """Base class of every method (baselines and generative methods alike).

    Subclasses set ``name`` and ``config_class`` (through the registry decorator) and
    implement ``fit`` and ``recommend``; ``score_all`` is optional.
    """

    name: ClassVar[str] = ""
    config_class: ClassVar[type] = object

    def __init__(self, config: Any, *, device: torch.device | str = "cpu", seed: int = 0) -> None:
        self.config = config
        self.device = torch.device(device)
        self.seed = seed
        #: where ``fit`` keeps its resumable training state (set by the runner; None = none)
        self.checkpoint_path: Path | None = None

    @abstractmethod
    def fit(self, splits: SequenceSplits, validator: Validator | None = None) -> FitReport:
        """Train on ``splits.train``; may call ``validator(self)`` to select epochs."""

    @abstractmethod
    def recommend(self, histories: HistoryBatch, k: int) -> TopK:
        """Top-``k`` items for each history, best first.

        Optional keyword (the evaluator passes it only to methods that declare it):
            exclude: bool ``[B, n_items + 1]`` (CPU) of items each user may not receive
                (history items with ``mask_history``, other domains' items with
                ``candidates="user-domain"``), or ``None``. A method declaring it returns
                ``k`` items outside ``exclude`` (when that many exist). The user's target is
                never excluded (the same rule as the full ranking); use the mask only to
                restrict candidates, never as a hint.

        Item ids are ``1..n_items`` (``0`` = empty slot), each at most once per row; scores
        are not NaN and are non-increasing along each row. The evaluator refuses other lists.
        """

    def score_all(self, histories: HistoryBatch) -> torch.Tensor | None:
        """float ``[B, n_items + 1]`` scores of every item (column 0 = padding, ignored).

        Return ``None`` (the default) when the method cannot score the whole catalogue
        exactly; the evaluator then ranks from ``recommend``'s top-k.
        """
        return None

    def torch_modules(self) -> list[torch.nn.Module]:
        """Every ``torch.nn.Module`` held as an attribute (switched to eval mode by the evaluator)."""
        return [v for v in vars(self).values() if isinstance(v, torch.nn.Module)]

    def num_parameters(self) -> dict[str, int]:
        """``{"total": ..., "trainable": ...}`` over every ``torch.nn.Module`` attribute."""
        total = trainable = 0
        for module in self.torch_modules():
            for p in module.parameters():
                total += p.numel()
                trainable += p.numel() if p.requires_grad else 0
        return {"total": total, "trainable": trainable}


def accepts_exclude(model: Recommender) -> bool:
    """Whether ``model.recommend`` declares the optional ``exclude`` keyword."""
    parameters = inspect.signature(model.recommend).parameters
    return "exclude" in parameters or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def top_k_from_scores(scores: torch.Tensor, k: int, exclude: torch.Tensor | None = None) -> TopK:
    """``TopK`` of a ``[B, n_items + 1]`` score matrix, never returning the padding column
    nor the items of ``exclude`` (bool ``[B, n_items + 1]``, optional)."""
    scores = scores.clone()
    if exclude is not None:
        scores = scores.masked_fill(exclude.to(scores.device), -torch.inf)
    scores[:, 0] = -torch.inf
    values, items = torch.topk(scores, k=min(k, scores.shape[1] - 1), dim=1)
    return TopK(items=items, scores=values)
