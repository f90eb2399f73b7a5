"""Replies of several conversations due at once, decoded as one batch.

A reply is a chain of small matrix products that reads the whole output layer
once a word; conversations decoded side by side read it once for all of them
(`Decoder.replies`), so a server that gathers the replies due together
answers many users for little more than the cost of one.
"""

from __future__ import annotations

from ..session import Heard, Session


def respond_together(turns: list[tuple[Session, str, int]]) -> list[str | Exception]:
    """Each (session, line, draw) replied to and stored as `Session.respond` does: the
    lines of sessions over one model read in one call, their replies decoded side by
    side (one call per decoding setting: `Decoder.replies`) and read back in one call.
    A turn that fails gets its exception, and its session is where it was."""
    results: list[str | Exception] = [RuntimeError("not replied")] * len(turns)
    by_model: dict[int, list[int]] = {}
    for i, (session, _, _) in enumerate(turns):
        by_model.setdefault(id(session.decoding_input().decoder), []).append(i)
    for rows in by_model.values():
        _respond(turns, rows, results)
    return results


def _respond(turns: list[tuple[Session, str, int]], rows: list[int], results: list) -> None:
    """`respond_together` for the turns `rows`, whose sessions share one model."""
    try:
        heard = Session.listen_together([turns[i][0] for i in rows], [turns[i][1] for i in rows])
    except Exception as exc:  # noqa: BLE001 - each of these turns hears of it
        for i in rows:
            results[i] = exc
        return
    by_settings: dict[object, list[tuple[int, Heard]]] = {}
    for i, h in zip(rows, heard, strict=True):
        by_settings.setdefault(turns[i][0].settings, []).append((i, h))
    replied: list[tuple[int, Heard, list[int]]] = []
    for group in by_settings.values():
        inputs = [turns[i][0].decoding_input() for i, _ in group]
        try:
            replies = inputs[0].decoder.replies(
                [x.state for x in inputs],
                [x.memory for x in inputs],
                inputs[0].settings,
                [turns[i][2] for i, _ in group],
                [x.banned for x in inputs],
            )
        except Exception as exc:  # noqa: BLE001
            for i, h in group:
                turns[i][0].restore(h)
                results[i] = exc
            continue
        replied += [(i, h, ids) for (i, h), ids in zip(group, replies, strict=True)]
    said = Session.finish_together(
        [turns[i][0] for i, _, _ in replied],
        [h for _, h, _ in replied],
        [ids for _, _, ids in replied],
        [turns[i][2] for i, _, _ in replied],
    )
    for (i, _, _), result in zip(replied, said, strict=True):
        results[i] = result
