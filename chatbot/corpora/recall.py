"""The recall corpus: generated conversations that ask the bot to give back
what it was told.

Real dialogue almost never asks for a fact from five exchanges earlier, so a
model trained on it has no reason to keep one in its carried state. In each
conversation here a person states facts about themselves (a name, a home
town, a pet and its name, a job, family, likes, age, plans, ...), talks about
other things (real exchanges from the chitchat corpus's train split), then
asks for a fact back in one of many phrasings, or refers to it ("how is
rex?"). The bot also says things about itself when asked, and keeps to them.
Facts are corrected now and then ("actually, i moved to paris"); the answer
is then the new value. Distances run from 1 to 10 exchanges.

Values mix real words with invented ones ("zorblax"): an invented word is
rare enough to stay out of any vocabulary, so the model learns to say such a
word back through its conversation slot (`vocab.Slots`).

`conversations(n, seed, fillers)` is deterministic in (n, seed, fillers): the
same arguments give the same corpus on every machine. Conversations get a
split from a hash of their id, like any corpus without an official split.
"""

# ruff: noqa: SIM905 - word lists read best as the words they are
from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .base import USER, Conversation, Problems, Utterance, hash_split
from .chitchat import read as chitchat_read

BOT = "bot"
VERSION = 2  # part of the corpus's hash: a new generator is a new corpus

NAMES = (
    "alice bob carol david emma frank grace henry isabel jack kate liam mia noah olivia "
    "peter quinn rachel sam tom una victor wendy xavier yara zoe anna ben chloe dan ella "
    "finn george hannah ivan julia kevin laura mark nina oscar paula ryan sara tim vera "
    "will amy james maria john sophie michael lucy daniel emily chris sarah matt jessica "
    "alex jordan taylor morgan jamie ahmed fatima wei mei raj priya carlos sofia diego "
    "yuki kenji omar leila pierre marie hans ingrid luca giulia"
).split()
CITIES = (
    "london paris berlin madrid rome tokyo boston chicago seattle denver toronto sydney "
    "dublin amsterdam vienna prague lisbon oslo stockholm helsinki warsaw cairo mumbai "
    "delhi beijing shanghai seoul bangkok manila lagos nairobi lima bogota texas florida "
    "california ohio oregon utah miami atlanta dallas houston phoenix portland austin "
    "vancouver montreal melbourne brisbane auckland glasgow manchester liverpool leeds "
    "bristol edinburgh cardiff belfast hamburg munich milan naples barcelona valencia"
).split()
PETS = "dog cat rabbit hamster parrot fish turtle horse snake lizard goldfish puppy kitten".split()
PET_NAMES = (
    "rex max bella charlie luna rocky daisy buddy molly lucky coco oreo milo bailey "
    "ginger shadow pepper simba tiger smokey oscar felix nemo spike"
).split()
JOBS = (
    "teacher nurse doctor lawyer engineer programmer student chef cook waiter pilot "
    "farmer writer artist musician designer accountant manager dentist mechanic "
    "plumber electrician scientist photographer journalist cashier driver baker "
    "firefighter policeman soldier banker architect librarian pharmacist"
).split()
FOODS = (
    "pizza pasta sushi burgers tacos chocolate salad steak chicken rice "
    "noodles curry pancakes soup cheese bread apples bananas strawberries fries "
    "sandwiches cake cookies eggs bacon fish seafood spaghetti lasagna"
).split()
HOBBIES = (
    "reading painting hiking swimming cooking dancing singing running fishing "
    "gardening drawing skiing surfing cycling gaming chess knitting camping "
    "photography football basketball tennis soccer baseball golf yoga writing"
).split()
COLOURS = "red blue green yellow purple orange pink black white grey brown".split()
RELATIVES = "sister brother mother father son daughter wife husband cousin aunt uncle".split()
SPORTS = "football basketball tennis soccer baseball golf hockey volleyball rugby cricket".split()
DRINKS = "coffee tea water juice milk beer wine soda lemonade".split()
_ONSETS = "b c d f g h j k l m n p r s t v w z br cr dr fl gr kl pr st tr zh sh th".split()
_VOWELS = "a e i o u ai ea oo ia".split()
_CODAS = ["", "", "n", "r", "x", "l", "th", "s", "k", "m"]


def invented(rng: random.Random) -> str:
    """A made-up name ("zorblax", "kemari"): new to any vocabulary."""
    syllables = rng.randint(2, 3)
    parts = [rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(syllables)]
    return "".join(parts) + rng.choice(_CODAS)


@dataclass(frozen=True)
class Kind:
    """One kind of fact: how it is stated, acknowledged, asked for and given back.
    `{v}` is the value; `{x}` an extra word that goes with it (a pet's animal)."""

    name: str
    values: Sequence[str]
    invent: float  # share of values that are invented words
    state: Sequence[str]
    ack: Sequence[str]
    ask: Sequence[str]
    answer: Sequence[str]
    extras: Sequence[str] = ("",)
    refer: Sequence[tuple[str, str]] = ()  # (question, answer) that mention the value


ACK = ("nice to meet you , {v} .", "hello {v} !", "hi {v} , good to meet you .")
KINDS = (
    Kind(
        "name",
        NAMES,
        0.5,
        (
            "my name is {v} .",
            "i'm {v} .",
            "call me {v} .",
            "hi , i am {v} .",
            "hello ! my name is {v} . how are you ?",
            "you can call me {v} .",
            "i am {v} .",
        ),
        ACK,
        (
            "what is my name ?",
            "what's my name ?",
            "do you remember my name ?",
            "who am i ?",
            "what did i say my name was ?",
            "can you tell me my name ?",
            "do you know my name ?",
        ),
        (
            "your name is {v} .",
            "you are {v} .",
            "you told me your name is {v} .",
            "{v} .",
            "you're {v} !",
        ),
    ),
    Kind(
        "city",
        CITIES,
        0.3,
        (
            "i live in {v} .",
            "i'm from {v} .",
            "i grew up in {v} .",
            "my home town is {v} .",
            "i come from {v} .",
        ),
        ("{v} ? i hear it is nice there .", "oh , {v} ! cool .", "nice , {v} ."),
        (
            "where do i live ?",
            "where am i from ?",
            "do you remember where i live ?",
            "what is my home town ?",
            "where did i say i was from ?",
        ),
        ("you live in {v} .", "you are from {v} .", "{v} .", "you told me you live in {v} ."),
    ),
    Kind(
        "pet",
        PET_NAMES,
        0.5,
        (
            "i have a {x} called {v} .",
            "my {x} is called {v} .",
            "i've got a {x} named {v} .",
            "my {x}'s name is {v} .",
        ),
        ("{v} is a lovely name for a {x} .", "aww , i love {x}s !", "{v} ! what a cute name ."),
        (
            "what is my {x} called ?",
            "what's my {x}'s name ?",
            "do you remember my {x}'s name ?",
            "what did i call my {x} ?",
        ),
        ("your {x} is called {v} .", "{v} .", "your {x} is {v} .", "you said {v} ."),
        PETS,
        (
            ("how is {v} ?", "{v} , your {x} ? i hope {v} is well ."),
            ("what kind of pet do i have ?", "you have a {x} called {v} ."),
        ),
    ),
    Kind(
        "job",
        JOBS,
        0.0,
        (
            "i work as a {v} .",
            "i am a {v} .",
            "i'm a {v} .",
            "my job is {v} .",
            "i have been a {v} for years .",
        ),
        ("a {v} ? that sounds interesting .", "oh , you are a {v} .", "cool , a {v} !"),
        (
            "what do i do for a living ?",
            "what is my job ?",
            "what do i work as ?",
            "do you remember my job ?",
            "what did i say i do ?",
        ),
        ("you are a {v} .", "you work as a {v} .", "you're a {v} .", "a {v} ."),
    ),
    Kind(
        "food",
        FOODS,
        0.0,
        (
            "my favourite food is {v} .",
            "i love eating {v} .",
            "i really like {v} .",
            "my favorite food is {v} .",
            "i could eat {v} every day .",
        ),
        ("{v} is great !", "yum , {v} .", "i like {v} too ."),
        (
            "what is my favourite food ?",
            "what food do i like ?",
            "what's my favorite food ?",
            "do you remember what i like to eat ?",
        ),
        ("you love {v} .", "{v} .", "your favourite food is {v} .", "you like {v} ."),
    ),
    Kind(
        "age",
        [str(n) for n in range(12, 90)],
        0.0,
        ("i am {v} years old .", "i'm {v} .", "i just turned {v} .", "i am {v} ."),
        ("{v} is a good age .", "oh , {v} !", "nice ."),
        ("how old am i ?", "do you remember how old i am ?", "what is my age ?"),
        ("you are {v} .", "you are {v} years old .", "{v} .", "you're {v} ."),
    ),
    Kind(
        "family",
        NAMES,
        0.5,
        ("i have a {x} called {v} .", "my {x}'s name is {v} .", "my {x} is {v} ."),
        ("{v} is a nice name .", "that's nice .", "oh , your {x} {v} ."),
        ("what is my {x}'s name ?", "what's my {x} called ?", "do you remember my {x}'s name ?"),
        ("your {x} is called {v} .", "{v} .", "your {x} is {v} ."),
        RELATIVES,
        (("how is {v} doing ?", "your {x} {v} ? i hope {v} is fine ."),),
    ),
    Kind(
        "hobby",
        HOBBIES,
        0.0,
        (
            "i love {v} .",
            "my hobby is {v} .",
            "in my free time i like {v} .",
            "i'm really into {v} .",
        ),
        ("{v} is fun !", "oh , {v} . nice .", "i like {v} too ."),
        ("what is my hobby ?", "what do i like to do ?", "what do i do in my free time ?"),
        ("you like {v} .", "{v} .", "your hobby is {v} .", "you love {v} ."),
    ),
    Kind(
        "plan",
        CITIES,
        0.3,
        (
            "i'm going to {v} next week .",
            "tomorrow i'm flying to {v} .",
            "i'm visiting {v} this summer .",
            "i plan to move to {v} .",
        ),
        ("{v} ? have a great trip !", "oh , {v} . sounds fun .", "enjoy {v} !"),
        (
            "where am i going ?",
            "where did i say i was going ?",
            "do you remember my plans ?",
            "where am i travelling to ?",
        ),
        ("you are going to {v} .", "{v} .", "you're going to {v} .", "you said {v} ."),
    ),
    Kind(
        "colour",
        COLOURS,
        0.0,
        ("my favourite colour is {v} .", "my favorite color is {v} .", "i love the colour {v} ."),
        ("{v} is a nice colour .", "{v} ! good choice .", "i like {v} too ."),
        ("what is my favourite colour ?", "what's my favorite color ?", "what colour do i like ?"),
        ("your favourite colour is {v} .", "{v} .", "you like {v} ."),
    ),
    Kind(
        "sport",
        SPORTS,
        0.0,
        ("i play {v} .", "my favourite sport is {v} .", "i love watching {v} ."),
        ("{v} is fun .", "oh , {v} !", "nice , {v} ."),
        ("what sport do i like ?", "what is my favourite sport ?", "what sport do i play ?"),
        ("you like {v} .", "{v} .", "your favourite sport is {v} ."),
    ),
    Kind(
        "drink",
        DRINKS,
        0.0,
        ("i drink {v} every morning .", "my favourite drink is {v} .", "i love {v} ."),
        ("{v} is nice .", "oh , {v} .", "i like {v} too ."),
        ("what do i like to drink ?", "what is my favourite drink ?", "what do i drink ?"),
        ("you like {v} .", "{v} .", "your favourite drink is {v} ."),
    ),
)
# What the bot says about itself when asked, and keeps to later.
BOT_KINDS = (
    (
        "colour",
        COLOURS,
        ("what is your favourite colour ?", "what colour do you like ?"),
        ("i like {v} .", "my favourite colour is {v} ."),
        ("what did you say your favourite colour was ?", "which colour do you like again ?"),
        ("{v} , as i said .", "i like {v} ."),
    ),
    (
        "food",
        FOODS,
        ("what is your favourite food ?", "what do you like to eat ?"),
        ("i love {v} .", "my favourite food is {v} ."),
        ("what food did you say you like ?", "what was your favourite food again ?"),
        ("{v} , as i said .", "i love {v} ."),
    ),
    (
        "city",
        CITIES,
        ("where are you from ?", "where do you live ?"),
        ("i live in {v} .", "i am from {v} ."),
        ("where did you say you live ?", "where are you from again ?"),
        ("i live in {v} .", "{v} , as i said ."),
    ),
    (
        "hobby",
        HOBBIES,
        ("what do you do for fun ?", "do you have a hobby ?"),
        ("i like {v} .", "my hobby is {v} ."),
        ("what was your hobby again ?", "what did you say you do for fun ?"),
        ("{v} , as i said .", "i like {v} ."),
    ),
)
CORRECT = (
    "actually , {s}",
    "sorry , i meant {v} .",
    "wait , i got that wrong . {s}",
    "oh , i forgot to say , {s}",
)
CORRECT_ACK = ("oh , {v} . got it .", "ok , {v} then .", "{v} , noted .")


def filler_pairs(
    chitchat: Path, max_words: int = 10, split: str = "train"
) -> list[tuple[str, str]]:
    """Consecutive (utterance, reply) pairs of a split of the chitchat corpus, both
    at most `max_words` words: real small talk to put between a fact and its question
    (the train split for training; evaluation takes the test split)."""
    pairs = []
    for conv in chitchat_read(chitchat, Problems()):
        if hash_split(conv.external_id) != split:
            continue
        texts = [u.text for u in conv.utterances]
        for a, b in zip(texts, texts[1:], strict=False):
            if len(a.split()) <= max_words and len(b.split()) <= max_words:
                pairs.append((a, b))
    return pairs


def fillers(pairs: Sequence[tuple[str, str]], rng: random.Random, n: int) -> list[tuple[str, str]]:
    return [pairs[rng.randrange(len(pairs))] for _ in range(n)] if pairs else []


def _value(kind: Kind, rng: random.Random) -> str:
    return invented(rng) if rng.random() < kind.invent else rng.choice(kind.values)


def conversation(rng: random.Random, pairs: Sequence[tuple[str, str]]) -> list[str]:
    """One conversation's utterances, user first, alternating."""
    exchanges, _ = script(rng, pairs)
    return [text for exchange in exchanges for text in exchange]


def script(
    rng: random.Random, pairs: Sequence[tuple[str, str]]
) -> tuple[list[tuple[str, str]], list[tuple[int, str]]]:
    """One conversation's exchanges, and (exchange index, value) of each question: the
    value its answer gives back."""
    exchanges: list[tuple[str, str]] = fillers(pairs, rng, rng.randint(0, 1))
    facts: list[tuple[Kind, str, str]] = []
    for kind in rng.sample(KINDS, rng.randint(2, 4)):
        v, x = _value(kind, rng), rng.choice(kind.extras)
        exchanges.append((_fmt(rng.choice(kind.state), v, x), _fmt(rng.choice(kind.ack), v, x)))
        facts.append((kind, v, x))
        exchanges += fillers(pairs, rng, rng.choice((0, 0, 1)))
    bot_fact = rng.choice(BOT_KINDS) if rng.random() < 0.3 else None
    if bot_fact:
        bv = rng.choice(bot_fact[1])
        exchanges.append((rng.choice(bot_fact[2]), _fmt(rng.choice(bot_fact[3]), bv, "")))
    answers: list[tuple[int, str]] = []
    # Two rounds of questions, each fact once per round: every fact is given back at
    # a short distance and a longer one, and the answers are a large share of what
    # the conversation teaches (small talk alone teaches no memory).
    for round_ in range(2):
        if round_ and rng.random() < 0.3:  # a correction: from now on the new value
            i = rng.randrange(len(facts))
            kind, _, x = facts[i]
            v = _value(kind, rng)
            said = _fmt(rng.choice(kind.state), v, x)
            fix = rng.choice(CORRECT).format(s=said, v=v)
            exchanges.append((fix, rng.choice(CORRECT_ACK).format(v=v)))
            facts[i] = (kind, v, x)
        exchanges += fillers(pairs, rng, rng.randint(0, 2))
        questions = [(_question(k, v, x, rng), v) for k, v, x in facts]
        if bot_fact:
            questions.append(((rng.choice(bot_fact[4]), _fmt(rng.choice(bot_fact[5]), bv, "")), bv))
        rng.shuffle(questions)
        for q, value in questions:
            answers.append((len(exchanges), value))
            exchanges.append(q)
            exchanges += fillers(pairs, rng, rng.choice((0, 0, 1, 2)))
    return exchanges, answers


def _question(kind: Kind, v: str, x: str, rng: random.Random) -> tuple[str, str]:
    if kind.refer and rng.random() < 0.3:
        q, a = rng.choice(kind.refer)
    else:
        q, a = rng.choice(kind.ask), rng.choice(kind.answer)
    return _fmt(q, v, x), _fmt(a, v, x)


def _fmt(template: str, v: str, x: str) -> str:
    return template.format(v=v, x=x)


def conversations(n: int, seed: int, pairs: Sequence[tuple[str, str]]) -> Iterator[Conversation]:
    """`n` recall conversations from `seed`, with filler exchanges drawn from `pairs`."""
    rng = random.Random(seed)
    for i in range(n):
        texts = conversation(rng, pairs)
        speakers = [USER, BOT] * (len(texts) // 2)
        utterances = [Utterance(s, t) for s, t in zip(speakers, texts, strict=True)]
        yield Conversation(f"recall-{seed}-{i}", utterances)
