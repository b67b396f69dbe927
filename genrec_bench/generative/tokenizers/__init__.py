"""Item tokenizers: embeddings ``[n_items, d]`` -> codes ``[n_items, L]`` (before disambiguation)."""

from genrec_bench.generative.tokenizers.rq_kmeans import RQKMeansConfig, fit_rq_kmeans
from genrec_bench.generative.tokenizers.rq_vae import RQVAE, RQVAEConfig, RQVAEHooks, fit_rq_vae

__all__ = ["RQKMeansConfig", "RQVAE", "RQVAEConfig", "RQVAEHooks", "fit_rq_kmeans", "fit_rq_vae"]
