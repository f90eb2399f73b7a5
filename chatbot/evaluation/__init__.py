"""The evaluation wing: how good a trained model is, measured.

    reports.py        `chatbot eval`: perplexity by turn under carried, reset and
                      shuffled history, the trigram baseline, replies, probes
    ablation.py       the compiled history ablation behind the turn tables
    kneser_ney.py     the interpolated Kneser-Ney trigram baseline
    reply_metrics.py  F1, BLEU, distinct-n and the generic-reply share of replies
    probe.py          the context probe: synthetic conversations a model can only
                      answer from memory

Nothing here is imported by chatting or training; importing the package starts
no TensorFlow (reports and ablation do, when imported).
"""
