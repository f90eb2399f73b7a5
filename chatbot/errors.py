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
