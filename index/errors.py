"""The core's own exception types; front ends turn them into one readable line."""

from __future__ import annotations

import errno

# OS errors that mean "this file system will not take the write": reported as StorageError.
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                          errno.EFBIG})


class CitebotError(Exception):
    """Base class. ``exit_code`` is what the CLI exits with; ``fix`` names the remedy."""

    exit_code = 1
    fix: str | None = None

    def __init__(self, message: str, fix: str | None = None):
        super().__init__(message)
        if fix is not None:
            self.fix = fix

    def user_message(self) -> str:
        """One line for a person: what went wrong and, where known, how to fix it."""
        msg = str(self)
        return f"{msg} ({self.fix})" if self.fix else msg


class UsageError(CitebotError):
    """Bad input from the user: an empty question, an unknown id, a missing folder."""

    exit_code = 2


class BadQuestion(UsageError):
    """The question is empty, too long or unreadable."""


class UnknownCitation(UsageError):
    """A citation id that names no passage of the index."""


class CorpusError(UsageError):
    """The corpus folder is missing, empty or holds an unreadable article."""


class IndexError_(UsageError):
    """The index is missing, stale, damaged or was built for another model."""

    fix = "run `citebot index build`"


class IndexMissing(IndexError_):
    """No index has been built at this location."""


class IndexCorrupt(IndexError_):
    """An index file is truncated, altered or does not match its manifest."""


class IndexMismatch(IndexError_):
    """The index was built by another model or format version."""


class StaleIndex(IndexError_):
    """The corpus changed since the index was built."""


class IngestError(UsageError):
    """One input file could not be turned into an article."""


class StorageError(UsageError):
    """A file could not be written: a read-only folder, a full disk, a size limit."""

    fix = "free space or make the folder writable, or use another folder (--index / --corpus)"


class Interrupted(UsageError):
    """The user interrupted the command (Ctrl-C); what was being written was rolled back."""
