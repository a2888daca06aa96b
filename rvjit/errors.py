"""Exception types shared across rvjit.

The CLI turns these into one-line messages instead of tracebacks, so every
message should stand on its own (name the file and the problem).
"""


class RvjitError(Exception):
    """Base class for errors rvjit reports to the user without a traceback."""


class GuestInputError(RvjitError):
    """Bad user input: unreadable files, malformed images, images that do not fit."""
