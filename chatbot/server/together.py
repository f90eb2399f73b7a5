"""Replies of several conversations due at once, decoded as one batch.

A reply is a chain of small matrix products that reads the whole output layer
once a word; conversations decoded side by side read it once for all of them
(`Decoder.replies`), so a server that gathers the replies due together
answers many users for little more than the cost of one.
"""

from __future__ import annotations

from ..session import Heard, Session


def respond_together(turns: list[tuple[Session, str, int]]) -> list[str | Exception]:
    """Each (session, line, draw) replied to and stored as `Session.respond` does, the
    replies of sessions over the same decoder and settings decoded side by side in one
    call (`Decoder.replies`). A turn that fails gets its exception, and its session
    is where it was; the others go on."""
    results: list[str | Exception] = [RuntimeError("not replied")] * len(turns)
    heard: dict[int, Heard] = {}
    groups: dict[tuple, list[int]] = {}
    for i, (session, text, _) in enumerate(turns):
        try:
            heard[i] = session.listen(text)
        except Exception as exc:  # noqa: BLE001 - this turn's failure, not the batch's
            results[i] = exc
            continue
        first = session.decoding_input()
        groups.setdefault((id(first.decoder), first.settings), []).append(i)
    for rows in groups.values():
        inputs = [turns[i][0].decoding_input() for i in rows]
        try:
            replies = inputs[0].decoder.replies(
                [x.state for x in inputs],
                [x.memory for x in inputs],
                inputs[0].settings,
                [turns[i][2] for i in rows],
                [x.banned for x in inputs],
            )
        except Exception as exc:  # noqa: BLE001
            for i in rows:
                turns[i][0].restore(heard[i])
                results[i] = exc
            continue
        for i, ids in zip(rows, replies, strict=True):
            try:
                results[i] = turns[i][0].finish(heard[i], ids, turns[i][2])
            except Exception as exc:  # noqa: BLE001
                results[i] = exc
    return results
