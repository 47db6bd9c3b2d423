"""Partner matching for cross-border research teams."""

__version__ = "0.1.0"
