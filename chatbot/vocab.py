"""The vocabulary: words <-> ids, with four special tokens first, then the
conversation slots.

Built from the training split of a corpus (never from validation or test, so
evaluation sees honest unknown words), capped in size and by minimum count,
and saved as JSON next to the model.

**Slots: words it has never seen.** A word-level model cannot say "rex" if
"rex" is not in its vocabulary. So each distinct unknown word of a
conversation reads and writes as one of a few slots (`<slot0>`, `<slot1>`,
...), and a reply's slot shows the word bound to it. A new word takes the
first free slot from a hash of the word on (models saved before `slot_hash`:
the next slot in order, wrapping round); once all are bound, a new word
replaces its slot's word (Luong et al. 2015, entity
anonymisation in Hermann et al. 2015). The binding is a function of the
conversation's text so far, so training, chat, undo, resume, replay and
evaluation all get it by encoding the conversation's utterances in order
through one `Slots`. A vocabulary without slot tokens (older models) reads
unknown words as `<unk>`, as before.

**Words the user says.** A word the vocabulary has cannot be said back unless
the model keeps which of 13,000 words it was in its carried state, and a small
model keeps the kind ("a city") but not the word. A slot is one of a few
tokens, which it does keep. So when the *user* states something
(`encode(..., user=True)`: chat input, and a generated corpus's `Prompt` lines
in training), the word the statement names takes a slot too if it ranks beyond
`rank` in the vocabulary: "i live in paris ." reads "paris" as a slot, and the
reply's slot shows "paris". The word a statement names is its last rare one,
because a stated fact mostly ends its sentence; binding every rare word instead
gave the question's and the small talk's words slots as well ("remind",
"beats"), and the model answered with the wrong one. A question binds no
known word. Once bound, the word reads as its slot on both sides; a word the
bot says first stays a word, so the bot's own vocabulary is whole.
"""

from __future__ import annotations

import json
import unicodedata
import zlib
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from .errors import ConfigError, ModelError
from .files import read_json, write_atomic
from .text import tokenize

PAD, START, END, UNK = "<pad>", "<start>", "<end>", "<unk>"
SPECIALS = (PAD, START, END, UNK)
PAD_ID, START_ID, END_ID, UNK_ID = range(4)
_SENTENCE_ENDS = frozenset(".!?")
SLOT = "<slot{}>"  # slot tokens follow the specials: ids 4 .. 4 + slots - 1


class Vocab:
    """An ordered list of tokens; the specials take ids 0 to 3."""

    def __init__(self, tokens: Iterable[str]):
        words = [t for t in tokens if t not in SPECIALS]
        self.itos: list[str] = list(SPECIALS) + words
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ModelError("vocabulary has duplicate tokens; rebuild it")
        self.slot_ids: list[int] = []
        while SLOT.format(len(self.slot_ids)) in self.stoi:
            self.slot_ids.append(self.stoi[SLOT.format(len(self.slot_ids))])

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    @classmethod
    def build(
        cls, texts: Iterable[str], max_size: int = 8000, min_count: int = 1, slots: int = 0
    ) -> Vocab:
        """Count tokens in `texts`; keep `slots` slot tokens and the commonest words seen
        `min_count` times, `max_size` tokens in all."""
        if max_size <= len(SPECIALS):
            raise ConfigError(f"vocab_size must be greater than 4. Received: vocab_size={max_size}")
        if min_count < 1:
            raise ConfigError(f"min_count must be at least 1. Received: min_count={min_count}")
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(tokenize(text))
        # Ties broken alphabetically so the same corpus always gives the same ids.
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        if max_size <= len(SPECIALS) + slots:
            raise ConfigError(
                f"vocab_size must be greater than 4 + slots. Received: vocab_size={max_size}, "
                f"slots={slots}"
            )
        slot_tokens = [SLOT.format(i) for i in range(slots)]
        kept = [w for w, n in ranked if n >= min_count and w not in SPECIALS]
        kept = [w for w in kept if not (w.startswith("<slot") and w.endswith(">"))]
        return cls(slot_tokens + kept[: max_size - len(SPECIALS) - slots])

    def encode(self, tokens: Iterable[str]) -> list[int]:
        return [self.stoi.get(t, UNK_ID) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens for `ids`, stopping at `<end>` and skipping padding and `<start>`."""
        return [self.itos[i] if 0 <= i < len(self.itos) else UNK for i in _until_end(ids)]

    def save(self, path: str | Path) -> None:
        """Write JSON atomically: a crash never leaves half a vocabulary."""
        write_atomic(
            Path(path), json.dumps({"specials": list(SPECIALS), "tokens": self.itos}, indent=0)
        )

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        data = read_json(path, "vocabulary")
        tokens = data.get("tokens") if isinstance(data, dict) else None
        if (
            not isinstance(tokens, list)
            or not all(isinstance(t, str) for t in tokens)
            or data.get("specials") != list(SPECIALS)
            or tokens[:4] != list(SPECIALS)
        ):
            raise ModelError(
                f"{path} is not a chatbot vocabulary (expected "
                '{"specials": [...], "tokens": [strings]}); retrain the model'
            )
        return cls(tokens)


def word_hash(word: str) -> int:
    """CRC-32 of the word's UTF-8 bytes: a hash the SavedModel export computes too."""
    return zlib.crc32(word.encode("utf-8"))


class Slots:
    """One conversation's binding of unknown words to slots (see the module's doc).

    `encode` binds as it reads, so encode every utterance of a conversation in
    order, both speakers; `decode` shows a bound slot as its word and drops an
    unbound one (the decoder has nothing to say there)."""

    def __init__(self, vocab: Vocab, rank: int = 0, by_hash: bool = False):
        self.vocab, self.rank, self.by_hash = vocab, rank, by_hash
        self.words: list[str | None] = [None] * len(vocab.slot_ids)
        self.seen = 0  # words bound so far; in order, the next takes slot seen % len
        # Ids from here on take a slot when the user says them (0: never).
        words_from = len(SPECIALS) + len(vocab.slot_ids)
        self.user_slot_from = words_from + rank if rank and vocab.slot_ids else len(vocab)

    @classmethod
    def for_model(cls, vocab: Vocab, config) -> Slots:
        """Empty slots under a model's rule (its Config's slot_rank and slot_hash)."""
        return cls(vocab, config.slot_rank, config.slot_hash)

    def fresh(self) -> Slots:
        """Empty slots under the same rule: a new conversation's."""
        return Slots(self.vocab, self.rank, self.by_hash)

    def copy(self) -> Slots:
        other = self.fresh()
        other.words, other.seen = list(self.words), self.seen
        return other

    def encode(self, tokens: Iterable[str], user: bool = False) -> list[int]:
        """Ids for `tokens`, binding slots as they come: unknown words, and, when the
        user says them (`user`), the last word ranked beyond `rank` of each statement."""
        stoi, ids, tokens = self.vocab.stoi, [], list(tokens)
        named = self._named(tokens) if user and self.rank else set()
        for k, t in enumerate(tokens):
            i = stoi.get(t)
            if t in self.words:
                ids.append(self.vocab.slot_ids[self.words.index(t)])
            elif i is not None and k not in named:
                ids.append(i)
            elif not self.words:
                ids.append(UNK_ID)
            else:
                n = self._next_slot(t)
                self.words[n], self.seen = t, self.seen + 1
                ids.append(self.vocab.slot_ids[n])
        return ids

    def _named(self, tokens: list[str]) -> set[int]:
        """Positions of the words a user's statement names: in each sentence that is
        not a question, its last word ranked beyond `rank`. A stated fact mostly ends
        its sentence ("i'm called jacob .", "our cat is named daisy ."), while the
        other rare words of a sentence ("nothing beats ...", "remind me , what is my
        pet called ?") would take slots the answer must not confuse with it."""
        named, last = set(), None
        for k, t in enumerate(tokens + ["."]):
            if t in _SENTENCE_ENDS:
                if last is not None and t != "?":
                    named.add(last)
                last = None
            elif self.vocab.stoi.get(t, len(self.vocab)) >= self.user_slot_from and _is_word(t):
                last = k
        return named

    def _next_slot(self, word: str) -> int:
        """The slot a new word takes. In order, the n-th new word takes slot n (mod
        the count). By hash, it takes the first free slot from `word_hash(word)` on
        (that slot itself once all are bound), so no slot number means "the first
        fact told": trained in order, a model answered most questions of a long
        chat with slot 0's word (docs/ablation.md)."""
        if not self.by_hash:
            return self.seen % len(self.words)
        start = word_hash(word) % len(self.words)
        for k in range(len(self.words)):
            n = (start + k) % len(self.words)
            if self.words[n] is None:
                return n
        return start

    def _slot(self, i: int) -> int | None:
        """The slot number of token id `i`, or None for a word."""
        n = i - self.vocab.slot_ids[0] if self.vocab.slot_ids else -1
        return n if 0 <= n < len(self.words) else None

    def empty(self) -> list[int]:
        """The ids of the slots that hold no word yet (a reply may not say them)."""
        return [i for i, w in zip(self.vocab.slot_ids, self.words, strict=True) if w is None]

    def bound(self, ids: list[int]) -> list[int]:
        """`ids` without the slots that hold no word yet (a reply says only what it
        shows), and a word a slot holds as that slot, as `encode` would read it."""
        out, itos = [], self.vocab.itos
        for i in ids:
            n = self._slot(i)
            if n is None and 0 <= i < len(itos) and itos[i] in self.words:
                out.append(self.vocab.slot_ids[self.words.index(itos[i])])
            elif n is None or self.words[n]:
                out.append(i)
        return out

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens for `ids` (as `Vocab.decode`), slots shown as their words, unbound
        slots left out."""
        out = []
        for i in _until_end(ids):
            n = self._slot(i)
            if n is None:
                out.extend(self.vocab.decode([i]))
            elif self.words[n]:
                out.append(self.words[n])  # type: ignore[arg-type]
        return out


def _is_word(token: str) -> bool:
    """A token that starts with a letter or a digit (not punctuation); the exported
    model tests the same with RE2's `[\\pL\\pN]`."""
    return unicodedata.category(token[0])[0] in "LN"


def _until_end(ids: Iterable[int]) -> list[int]:
    """The ids before `<end>`, without padding and `<start>`."""
    out = []
    for i in ids:
        if i == END_ID:
            break
        if i not in (PAD_ID, START_ID):
            out.append(i)
    return out
