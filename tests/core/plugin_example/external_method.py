"""A method as another package would ship it: found through the entry-point group only."""

from dataclasses import dataclass

from baselines.popularity import Popularity
from genrec_bench.registry import register_method


@dataclass(frozen=True)
class ExternalConfig:
    width: int = 3


@register_method("external-popularity", config=ExternalConfig,
                 profiles={"smoke": ExternalConfig(), "cpu": ExternalConfig(width=5)})
class ExternalPopularity(Popularity):
    pass
