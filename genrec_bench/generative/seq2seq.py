"""A T5 that reads a history of semantic IDs and generates the next item's semantic ID.

The part every encoder-decoder method shares (TIGER, LETTER): history items -> flattened
code tokens, teacher-forced training loss, and top-K decoding with the trie-constrained
(or unconstrained) beam search over a shared encoder output.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from genrec_bench.generative.beam_search import BeamResult, beam_search
from genrec_bench.generative.semantic_ids import SemanticIds
from genrec_bench.generative.t5_generator import SharedEncoderDecoder, T5GeneratorConfig, build_t5
from genrec_bench.generative.t5_training import teacher_forced_logits
from genrec_bench.generative.trie import PrefixTrie
from genrec_bench.training.distributed import wrap
from genrec_bench.training.optimizers import adamw
from genrec_bench.training.precision import resolve_precision, training_autocast


class SemanticIdSeq2Seq:
    """Args:
    ids: the semantic-ID artifact (defines the vocabulary).
    config: T5 sizes.
    device: where the model lives.
    """

    def __init__(self, ids: SemanticIds, config: T5GeneratorConfig, device: torch.device) -> None:
        self.ids = ids
        self.device = device
        self.precision = resolve_precision(config.train_precision, device)      # "auto" -> per device
        self.model = build_t5(config, ids.vocab_size).to(device)
        self.train_model = wrap(self.model)  # DistributedDataParallel under torchrun
        self.item_tokens = torch.from_numpy(ids.tokens()).to(device)              # [n_items + 1, L]
        self.level_offsets = torch.from_numpy(ids.level_offsets).to(device)
        self.trie = PrefixTrie.build(ids.codes[1:], ids.level_sizes).to(device)
        self.token_loss = token_loss   # what ``loss`` runs; ``compile_loss`` replaces it

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["train_model"] = None  # a DistributedDataParallel wrapper is not part of the model
        state["token_loss"] = None   # nor is a compiled function
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("precision", "fp32")   # objects saved before the option existed
        self.train_model = self.model
        self.token_loss = token_loss

    def optimizer(self, *, lr: float, weight_decay: float) -> torch.optim.AdamW:
        """AdamW over the T5's parameters, fused on CUDA (``training/optimizers.py``)."""
        return adamw(self.model.parameters(), lr=lr, weight_decay=weight_decay, device=self.device)

    def compile_loss(self, **options) -> None:
        """Make ``loss`` (so the training step) run ``torch.compile(token_loss, **options)``:
        the T5 forward and the cross-entropy as one graph (``fullgraph=True`` traces without
        breaks). Not used by default: on the 2-core CPU, inductor took 353 s to compile the
        cpu-size step and the compiled step ran at 0.35x the eager one (dynamic shapes, bf16);
        on CUDA, where steps are launch-bound, it is untested (no GPU was lent to measure it).
        Under DistributedDataParallel ``loss`` keeps the wrapper's forward."""
        self.token_loss = torch.compile(token_loss, **options)

    def encoder_inputs(self, history: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """History items ``[B, H]`` (0 = padding) -> token ids ``[B, H*L]`` and attention mask."""
        items = torch.from_numpy(history).to(self.device)
        tokens = self.item_tokens[items].reshape(items.shape[0], -1)               # pads map to 0
        return tokens, (tokens != 0).long()

    def loss(self, history: np.ndarray, targets: np.ndarray, temperature: float = 1.0) -> torch.Tensor:
        """Mean token cross-entropy of the targets' codes; logits divided by ``temperature``
        (1.0 = TIGER; LETTER's ranking-guided loss uses another value). The logits come from
        ``teacher_forced_logits`` (the T5's training forward written out, 1.5x+ faster on CPU);
        under DistributedDataParallel from the wrapper's forward, so gradients are synchronised."""
        input_ids, mask = self.encoder_inputs(history)
        labels = self.item_tokens[torch.from_numpy(targets).to(self.device)]       # [B, L]
        if self.train_model is self.model:           # the written-out forward (t5_training.py)
            return self.token_loss(self.model, input_ids, mask, labels, temperature, self.precision == "bf16")
        with training_autocast(self.device, self.precision):  # DDP syncs gradients only through its forward
            logits = self.train_model(input_ids=input_ids, attention_mask=mask,
                                      decoder_input_ids=self.model._shift_right(labels)).logits
        return _cross_entropy(logits, labels, temperature)

    @torch.no_grad()
    def decode(self, history: np.ndarray, beam_width: int, constrained: bool = True,
               exclude: torch.Tensor | None = None) -> BeamResult:
        """Beam search for histories ``[B, H]``; ``exclude`` (bool ``[B, n_items + 1]``) = items
        each user may not receive, pruned during the search."""
        input_ids, mask = self.encoder_inputs(history)
        decoder = SharedEncoderDecoder(self.model)
        decoder.encode(input_ids, mask)
        return beam_search(decoder.step, batch_size=input_ids.shape[0], level_offsets=self.level_offsets,
                           level_sizes=self.ids.level_sizes, beam_width=beam_width,
                           trie=self.trie if constrained else None,
                           code_to_item=None if constrained else self.trie.lookup, device=self.device,
                           exclude=None if exclude is None else exclude.to(self.device))

    def recommend(self, histories, k: int, *, max_history: int, beam_width: int,
                  exclude: torch.Tensor | None = None):
        """``TopK`` of the trie-constrained beam search (``max(beam_width, k)`` beams) for a
        ``HistoryBatch``, reading each user's last ``max_history`` items; items of ``exclude``
        (bool ``[B, n_items + 1]``) are pruned in the trie, so ``k`` allowed items come back."""
        from genrec_bench.recommender import TopK

        history = histories.padded(max_history, align="left").numpy()
        result = self.decode(history, beam_width=max(beam_width, k), exclude=exclude)
        return TopK(items=result.items[:, :k], scores=result.scores[:, :k])


def token_loss(model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor,
               temperature: float, bf16: bool) -> torch.Tensor:
    """Mean cross-entropy of ``labels [B, L]`` under the T5's teacher-forced logits (divided by
    ``temperature``); the forward under bf16 autocast when ``bf16``."""
    with torch.autocast(device_type=input_ids.device.type, dtype=torch.bfloat16, enabled=bf16):
        logits = teacher_forced_logits(model, input_ids, attention_mask, labels)
    return _cross_entropy(logits, labels, temperature)


def _cross_entropy(logits: torch.Tensor, labels: torch.Tensor, temperature: float) -> torch.Tensor:
    logits = logits.float()
    return F.cross_entropy((logits / temperature).reshape(-1, logits.shape[-1]), labels.reshape(-1))
