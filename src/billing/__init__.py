"""Billing warehouse for freelancer marketplaces."""

__version__ = "0.1.0"
