"""Access-log statistics."""
__version__ = "0.2.0"
