"""genrec_bench: the core of the generative-recommendation benchmark suite.

Dependencies point one way: ``runners`` -> ``methods``/``baselines`` -> ``genrec_bench``.
The core holds data loading and splitting, the one ``Recommender`` interface and its
registry, the evaluator, the training utilities and the run records.
"""

__version__ = "0.1.0"
