"""Preference-dissection workbench: annotate, load and dissect judges' preferences."""

__version__ = "0.1.0"
