"""The synthetic raw-folder generator behind ``billing generate`` (see docs/generator.md)."""

from .api import GenerateSummary, default_end_period, generate

__all__ = ["GenerateSummary", "default_end_period", "generate"]
