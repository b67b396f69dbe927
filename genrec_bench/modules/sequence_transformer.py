"""The item-sequence Transformer of SASRec (causal) and BERT4Rec (bidirectional).

Item embedding + learned absolute position embedding, LayerNorm, dropout, then post-LN
Transformer blocks with GELU (RecBole's layout, ``layer_norm_eps=1e-12``), weights
initialised from N(0, 0.02) as in RecBole. Sequences are left-aligned (padding at the end),
positions count from the first item.
"""

from __future__ import annotations

import torch
from torch import nn


class SequenceTransformer(nn.Module):
    """``forward(tokens [B, L]) -> hidden [B, L, d]``.

    Args:
        n_tokens: embedding rows (items + padding 0 + any special tokens).
        hidden_size: ``d``.
        n_layers, n_heads, inner_size: Transformer block sizes.
        dropout: dropout on embeddings, attention and feed-forward (RecBole uses the same
            value for its hidden and attention dropout in both models' defaults).
        max_len: the longest sequence (number of position embeddings).
        causal: True = each position sees only earlier ones (SASRec); False = all real
            positions (BERT4Rec), padding keys masked.
    """

    def __init__(self, *, n_tokens: int, hidden_size: int, n_layers: int, n_heads: int,
                 inner_size: int, dropout: float, max_len: int, causal: bool) -> None:
        super().__init__()
        self.causal = causal
        self.item_embedding = nn.Embedding(n_tokens, hidden_size, padding_idx=0)
        self.position_embedding = nn.Embedding(max_len, hidden_size)
        self.norm = nn.LayerNorm(hidden_size, eps=1e-12)
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(
            hidden_size, n_heads, inner_size, dropout, activation="gelu", batch_first=True,
            layer_norm_eps=1e-12, norm_first=False)
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.apply(_init_weights)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        length = tokens.shape[1]
        positions = torch.arange(length, device=tokens.device)
        x = self.item_embedding(tokens) + self.position_embedding(positions).unsqueeze(0)
        x = self.dropout(self.norm(x))
        if self.causal:
            # left-aligned sequences: real positions never see the padding that follows them
            mask = nn.Transformer.generate_square_subsequent_mask(length, device=tokens.device)
            return self.encoder(x, mask=mask, is_causal=True)
        return self.encoder(x, src_key_padding_mask=tokens == 0)


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
        if isinstance(module, nn.Embedding) and module.padding_idx is not None:
            with torch.no_grad():
                module.weight[module.padding_idx].zero_()
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
