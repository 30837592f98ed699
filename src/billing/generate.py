"""``billing generate``: write a realistic raw folder that follows the contract.

The implementation lives in :mod:`billing.generator`; this module is the entry point the CLI
and the flows import.
"""

from billing.generator import GenerateSummary, default_end_period, generate

__all__ = ["GenerateSummary", "default_end_period", "generate"]
