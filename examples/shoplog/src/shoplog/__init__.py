"""shoplog: summarize an order log."""
__version__ = "0.1.0"
