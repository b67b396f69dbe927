"""Generic training pieces shared by every method: seeding, devices, early stopping, batching."""

from genrec_bench.training.device import resolve_device
from genrec_bench.training.early_stopping import EarlyStopping
from genrec_bench.training.seeding import seed_everything

__all__ = ["EarlyStopping", "resolve_device", "seed_everything"]
