"""Frontline: versioned front-line maps as data you can query, measure and show."""

__version__ = "0.1.0"
