"""Errors a user can act on: one line, exit code 2."""


class UsageError(Exception):
    """A usage or set-up problem; the message says what is wrong and what to do."""
