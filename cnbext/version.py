"""cnbext's version: recorded in the labels it writes (builder metadata, provenance)."""

__version__ = "0.1.0"
