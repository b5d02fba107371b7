"""Frontline's errors, by who can mend them: the user's input, a missing version, the store, the network.

Every error a user can meet is one of these, with a message that names the file, record or field and the
reason. The CLI prints the message and exits non-zero; the web API maps each type to its status code
(:class:`InputError` 400, :class:`NoVersionError` 404, :class:`StoreError` 503); anything else is a bug and
answers 500. The input and version errors are also ``ValueError``\\ s so that code written before this hierarchy
keeps working.
"""

from __future__ import annotations

__all__ = ["FrontlineError", "InputError", "NoVersionError", "StoreError", "FetchError"]


class FrontlineError(Exception):
    """Base of every error Frontline raises on purpose."""


class InputError(FrontlineError, ValueError):
    """Input that cannot be used: where it is, which field, and why.

    Parameters
    ----------
    reason
        What is wrong, in words.
    where
        ``"<file> line N"``, ``"record 12"``, ``"command line"``, ``"query"``…; None when it goes without saying.
    field
        The offending field or parameter; None when the record as a whole is wrong.
    """

    def __init__(self, reason: str, *, where: str | None = None, field: str | None = None):
        self.reason, self.where, self.field = reason, where, field
        text = f"field {field!r}: {reason}" if field else reason
        super().__init__(f"{where}: {text}" if where else text)


class NoVersionError(FrontlineError, ValueError):
    """No version answers: the store holds none of the source, or none at the time or in the range asked."""


class StoreError(FrontlineError, RuntimeError):
    """The store cannot be used as asked: missing, not a Frontline store, read-only, or of another schema."""


class FetchError(FrontlineError, RuntimeError):
    """A request failed after its retries (or at once, when retrying cannot help); the message names the URL."""
