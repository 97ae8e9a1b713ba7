"""The one exception family of kb: every expected failure is a KBError with a message that says what to do."""


class KBError(Exception):
    """Base of every error kb expects; the CLI prints its message on one line and exits non-zero."""


class CorpusError(KBError):
    """A corpus document cannot be read or parsed (empty, binary, bad encoding, bad front matter, ...)."""

    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class BuildMissingError(KBError):
    """No usable build exists in the data directory."""


class QueryError(KBError):
    """A query or its options are invalid."""


class NotFoundError(KBError):
    """A node, reproduction or other named thing does not exist."""


class ReproError(KBError):
    """A reproduction failed to run or to produce its results."""
