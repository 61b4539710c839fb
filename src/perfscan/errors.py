"""Errors a user can act on: one line, exit code 2."""


class UsageError(Exception):
    """A usage or set-up problem; the message says what is wrong and what to do."""


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived; the scan stops, children are killed, exit 130."""
