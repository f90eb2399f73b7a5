"""The `chatbot` command line: parsing and printing only; the library does the work.

`app.py` holds the click group; importing the command modules registers their
commands on it. Errors a user can fix print one line and exit 2 (bad usage)
or 1 (failure); TensorFlow is imported only inside the commands that need a
model.
"""

from . import (
    chat_commands,
    corpus_commands,
    export_commands,
    model_commands,
    registry_commands,
    serve_commands,
)
from .app import cli

__all__ = [
    "chat_commands",
    "serve_commands",
    "cli",
    "corpus_commands",
    "export_commands",
    "main",
    "model_commands",
    "registry_commands",
]


def main() -> None:
    cli()
