"""What a bot's replies look like, measured against the human replies.

Pure functions over token lists (no TensorFlow), used by `chatbot eval` and the
quality report:

- distinct-1/2: unique n-grams over all n-grams of all replies (Li et al. 2016);
- generic rate: the share of replies that are one of the 10 most frequent;
- unigram F1 against the human reply, computed as ParlAI does: lower case,
  punctuation and the articles a/an/the removed, the overlap of the two token
  multisets, averaged over replies;
- BLEU-1 and BLEU-2: nltk's `corpus_bleu` with one reference per reply and
  Chen & Cherry's smoothing method 1 (`SmoothingFunction().method1`), so a
  reply without a matching bigram does not zero the corpus score.
"""

from __future__ import annotations

import re
from collections import Counter

from ..text import detokenize

_ARTICLES = frozenset({"a", "an", "the"})
_PUNCTUATION = re.compile(r"^[^\w]+$")


def _content(tokens: list[str]) -> list[str]:
    return [t for t in tokens if t not in _ARTICLES and not _PUNCTUATION.match(t)]


def unigram_f1(reply: list[str], reference: list[str]) -> float:
    """ParlAI's F1 of one reply against one human reply."""
    guess, gold = _content(reply), _content(reference)
    common = sum((Counter(guess) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(guess), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def bleu(replies: list[list[str]], references: list[list[str]]) -> dict:
    from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu

    refs = [[r] for r in references]
    smooth = SmoothingFunction().method1
    return {
        "bleu_1": corpus_bleu(refs, replies, weights=(1.0,), smoothing_function=smooth),
        "bleu_2": corpus_bleu(refs, replies, weights=(0.5, 0.5), smoothing_function=smooth),
    }


def reply_metrics(
    replies: list[list[str]], references: list[list[str]] | None = None, top: int = 10
) -> dict:
    """distinct-1/2, the share of replies that are one of the `top` most frequent, the
    three most frequent (as text), the average length in tokens; with `references`
    (the human reply to each), also unigram F1 and BLEU-1/2."""
    if not replies:
        return {"replies": 0}
    unigrams = [w for r in replies for w in r]
    bigrams = [pair for r in replies for pair in zip(r, r[1:], strict=False)]
    counts = Counter(tuple(r) for r in replies)
    metrics = {
        "replies": len(replies),
        "distinct_1": len(set(unigrams)) / max(len(unigrams), 1),
        "distinct_2": len(set(bigrams)) / max(len(bigrams), 1),
        "generic_rate": sum(n for _, n in counts.most_common(top)) / len(replies),
        "top_replies": [detokenize(list(reply)) for reply, _ in counts.most_common(3)],
        "average_length": len(unigrams) / len(replies),
    }
    if references is not None:
        assert len(references) == len(replies), "one human reply per bot reply"
        f1 = [unigram_f1(r, h) for r, h in zip(replies, references, strict=True)]
        metrics["f1"] = sum(f1) / len(f1)
        metrics.update(bleu(replies, references))
    return metrics
