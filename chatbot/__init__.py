"""chatbot: a word-level conversational model that remembers the conversation.

The public API is `Chatbot` (load a model, `respond`, `observe`,
`reset_hidden_state`) and `ChatbotError`. `Chatbot` is imported lazily, so
importing this package does not load TensorFlow.
"""

from typing import Any

from .errors import ChatbotError

__all__ = ["Chatbot", "ChatbotError"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "Chatbot":
        from .bot import Chatbot

        return Chatbot
    raise AttributeError(f"module 'chatbot' has no attribute {name!r}")
