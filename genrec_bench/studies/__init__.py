"""Studies: sets of ordinary runs that answer one question about the suite's own recipes,
kept in results folders of their own (tables never read them), with a report beside them."""

from genrec_bench.studies.sample_efficiency import StudySettings, run_study, write_report

__all__ = ["StudySettings", "run_study", "write_report"]
