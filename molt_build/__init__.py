"""moltb: a content-addressed, parallel build system with a shared local action cache."""

__version__ = "0.1.0"
