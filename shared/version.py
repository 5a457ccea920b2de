"""The project's version, the single source for packaging, Register and `--version`."""

__version__ = "0.1.0"
