"""Raw folder → ``raw.*``: readers (one file → rows), rules (the contract), load (the run)."""

from billing.inputs.load import FileOutcome, LoadSummary, load_raw_dir

__all__ = ["FileOutcome", "LoadSummary", "load_raw_dir"]
