"""Perplexity, the one measure of training, `chatbot eval` and `replay`: the
exponential of the mean loss per target token (no TensorFlow here)."""

from __future__ import annotations

import math


def perplexity(loss_sum: float, tokens: int) -> float:
    """exp(loss_sum / tokens), capped at e^50 so a diverged run still prints; NaN for
    no tokens (a corpus with nothing to predict has no perplexity)."""
    return math.exp(min(loss_sum / tokens, 50.0)) if tokens else float("nan")
