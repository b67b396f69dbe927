"""Run records: what ran (config, seed, code, environment, data) and what came out."""

from genrec_bench.records.atomic import atomic_write_bytes, atomic_write_json
from genrec_bench.records.environment import capture_environment
from genrec_bench.records.record import RunRecord, find_records, load_per_user, run_directory
from genrec_bench.records.selection import config_id, current_runs

__all__ = ["RunRecord", "atomic_write_bytes", "atomic_write_json", "capture_environment", "config_id",
           "current_runs", "find_records", "load_per_user", "run_directory"]
