"""`python -m chatbot` is the `chatbot` command."""

from .cli import main

main()
