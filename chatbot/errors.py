"""The exceptions the library raises for problems a user can fix.

The CLI turns a `ChatbotError` into one line on stderr: `UsageError` exits 2
(the command was asked for something it cannot do), everything else exits 1.
"""


class ChatbotError(Exception):
    """A problem with the user's input or data, explained in one line."""

    exit_code = 1


class UsageError(ChatbotError):
    """A bad argument: unknown format, missing path, invalid value."""

    exit_code = 2


class CorpusFormatError(ChatbotError):
    """A corpus file that cannot be read as the format it claims to be."""


class StoreError(ChatbotError):
    """The database cannot be used (too new, missing corpus, name taken)."""


class ConfigError(UsageError):
    """A hyperparameter that is out of range."""


class ModelError(ChatbotError):
    """A model folder that is missing, incomplete or incompatible."""


def os_reason(exc: OSError) -> str:
    """An OSError in words, with its path when it has one: "No space left on device
    (models/x/ckpt)". Some carry no strerror or text at all; then its type speaks."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return f"{reason} ({exc.filename})" if exc.filename else reason
