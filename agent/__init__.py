"""Diagnose, fix, verify and undo the causes of 401 errors in Microsoft 365 migration connectors."""

__version__ = "0.1.0"
