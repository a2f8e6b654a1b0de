"""Features of the stage classifier: one sparse row per message in its context.

The row holds TF-IDF word and character n-grams of the message, the words of the previous turn and of the
turns before it, and named flags: cue-word groups from `data/stage/lexicon.yaml` found in the message and
in the previous turn, amounts and times, the speaker, the current stage, who spoke last, and (for very
short messages, whose meaning comes from context) the current stage again.

Then what the message answers: a turn reader (a classifier of single turns, trained on the messages alone)
reads the last two turns of the history, and its stage probabilities become features, by who said the turn
and how recent it is, and crossed with the kind of reply ("yes" to a closing turn, "too much" to a price).

scikit-learn learns the vocabularies and idf weights; turning one sample into a row is done here with
dictionary lookups, because scikit-learn's transformers cost milliseconds per call in validation alone.
Training uses the same code, so training and prediction cannot disagree.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from salesboost.yamlfiles import load_yaml

SHORT_WORDS = 4  # a message this short takes its meaning mostly from context
RECENT = (1.0, 0.5)  # weight of what the last turn and the one before it read as
# Cue groups that say how a message answers the turn before it; each is crossed with that turn's stage.
REPLY_CUES = (
    "agreement", "commitment", "competitor", "gratitude", "hesitation", "positive", "price", "product", "scheduling",
    "too_much",
)

_TOKEN = re.compile(r"\w+(?:['\-]\w+)*")
_MONEY = re.compile(
    r"[$€£¥]\s?\d|\b\d[\d,.]*\s?(?:k|dollars|euros|pounds|usd|eur|gbp)\b|\bper (?:seat|user|month|year)\b", re.I
)
_TIME = re.compile(r"\b\d{1,2}(?::\d{2})?\s?(?:am|pm)\b|\b\d{1,2}:\d{2}\b|\b\d{1,2}(?:st|nd|rd|th)\b", re.I)

IntArray = np.ndarray[Any, np.dtype[np.int64]]
FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def softmax(z: FloatArray) -> FloatArray:
    e: FloatArray = np.exp(z - z.max(axis=-1, keepdims=True))
    total: FloatArray = e.sum(axis=-1, keepdims=True)
    return e / total


class LexiconError(ValueError):
    """The lexicon file cannot be used as it is."""


def tokens(text: str) -> list[str]:
    """Lower-case words, keeping inner apostrophes and hyphens ("let's", "follow-up")."""
    return _TOKEN.findall(text.lower().replace("’", "'"))


@dataclass(frozen=True, slots=True)
class Turn:
    role: str
    content: str


@dataclass(frozen=True, slots=True)
class Sample:
    """What the classifier sees: the message, who said it, and what came before."""

    message: str
    speaker: str = "customer"
    history: tuple[Turn, ...] = ()
    current_stage: str | None = None


class Lexicon:
    """Cue-word groups: which groups a text mentions, by whole words; `stem*` matches any ending."""

    def __init__(self, groups: dict[str, list[str]]) -> None:
        self.groups = groups
        self._exact: dict[tuple[str, ...], set[str]] = {}
        self._prefix: dict[tuple[str, ...], set[str]] = {}
        for name, phrases in groups.items():
            for phrase in phrases:
                words = tuple(tokens(phrase))
                if not words:
                    raise LexiconError(f"group {name!r}: phrase {phrase!r} has no words")
                table = self._prefix if phrase.rstrip().endswith("*") else self._exact
                table.setdefault(words, set()).add(name)
        self._longest = max(len(k) for k in (*self._exact, *self._prefix))
        self._stem_lengths = sorted({len(k[-1]) for k in self._prefix})

    def __getstate__(self) -> dict[str, Any]:
        # The lookup tables hold sets, whose pickled order follows the process's string hashes; rebuild them.
        return {"groups": self.groups}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["groups"])  # type: ignore[misc]

    def cues(self, text: str) -> list[str]:
        words = tokens(text)
        found: set[str] = set()
        for start in range(len(words)):
            for end in range(start + 1, min(start + self._longest, len(words)) + 1):
                seq = tuple(words[start:end])
                found |= self._exact.get(seq, set())
                head, last = seq[:-1], seq[-1]
                for length in self._stem_lengths:
                    if length > len(last):
                        break
                    found |= self._prefix.get((*head, last[:length]), set())
        return sorted(found)


def load_lexicon(path: Path) -> Lexicon:
    try:
        raw = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise LexiconError(f"cannot read lexicon {path}: {exc}") from exc
    groups = raw.get("groups") if isinstance(raw, dict) else None
    if not isinstance(groups, dict) or not groups:
        raise LexiconError(f"{path}: needs a 'groups' mapping of group name to a list of phrases")
    for name, phrases in groups.items():
        if not isinstance(phrases, list) or not phrases:
            raise LexiconError(f"{path}: group {name!r} must be a non-empty list of phrases")
    try:
        return Lexicon({str(n): [str(p) for p in ps] for n, ps in groups.items()})
    except LexiconError as exc:
        raise LexiconError(f"{path}: {exc}") from None


def _word_ngrams() -> TfidfVectorizer:
    return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b")


@dataclass(slots=True)
class _TextBlock:
    """One TF-IDF block: scikit-learn fits vocabulary and idf, `add` applies them to one text."""

    name: str
    vectorizer: TfidfVectorizer
    weight: float
    offset: int = 0
    _analyze: Callable[[str], list[str]] | None = None
    _idf: list[float] = field(default_factory=list)

    def fit(self, texts: list[str]) -> list[str]:
        # A context block may be empty in every example; a placeholder keeps its vocabulary non-empty.
        self.vectorizer.fit([*texts, "none"])
        return [str(t) for t in self.vectorizer.get_feature_names_out()]

    def add(self, text: str, indices: list[int], values: list[float]) -> None:
        """Append this text's l2-normalised, sublinear TF-IDF entries (what the vectorizer would give)."""
        if self._analyze is None:
            self._analyze, self._idf = self.vectorizer.build_analyzer(), self.vectorizer.idf_.tolist()
        vocabulary, idf = self.vectorizer.vocabulary_, self._idf
        counts: dict[int, int] = {}
        for term in self._analyze(text):
            column = vocabulary.get(term)
            if column is not None:
                counts[column] = counts.get(column, 0) + 1
        if not counts:
            return
        weights = [(1.0 + math.log(n)) * idf[c] for c, n in counts.items()]
        scale = self.weight / math.sqrt(sum(w * w for w in weights))
        indices.extend(self.offset + c for c in counts)
        values.extend(w * scale for w in weights)

    def __getstate__(self) -> dict[str, Any]:
        # scikit-learn caches id(stop_words), a memory address, on the vectorizer: left out, builds are byte-identical.
        vectorizer = copy.copy(self.vectorizer)
        vars(vectorizer).pop("_stop_words_id", None)
        return {"name": self.name, "vectorizer": vectorizer, "weight": self.weight, "offset": self.offset}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, value)
        self._analyze, self._idf = None, []


def _blocks() -> list[_TextBlock]:
    """Message words and characters weigh most, then the previous turn, then earlier turns."""
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2)
    return [
        _TextBlock("word", _word_ngrams(), 1.5),
        _TextBlock("characters", chars, 1.0),
        _TextBlock("previous turn", _word_ngrams(), 0.6),
        _TextBlock("earlier turns", TfidfVectorizer(sublinear_tf=True), 0.3),
    ]


@dataclass(frozen=True, slots=True)
class TurnReader:
    """Stage probabilities of one turn on its own: a linear model over the message features of that turn."""

    classes: tuple[str, ...]
    weights: FloatArray  # (classes, message features)
    bias: FloatArray

    def read(self, indices: IntArray, values: FloatArray) -> FloatArray:
        return softmax(self.weights[:, indices] @ values + self.bias)


@dataclass(slots=True)
class Featurizer:
    lexicon: Lexicon
    blocks: list[_TextBlock] = field(default_factory=_blocks)
    flag_columns: dict[str, int] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)
    reader: TurnReader | None = None
    context_columns: dict[str, int] = field(default_factory=dict)

    @staticmethod
    def _texts(sample: Sample) -> tuple[str, str, str, str]:
        previous = sample.history[-1].content if sample.history else ""
        earlier = " ".join(t.content for t in sample.history[-5:-1])
        return sample.message, sample.message, previous, earlier

    def flags(
        self, sample: Sample, cues: list[str] | None = None, previous_cues: list[str] | None = None
    ) -> list[str]:
        """The named facts about a sample; each is one feature (and a possible signal).

        `cues` and `previous_cues` are the lexicon groups of the message and of the last turn, when known.
        """
        message = sample.message
        previous = sample.history[-1] if sample.history else None
        stage = (sample.current_stage or "unknown").replace("_", " ")
        flags = [
            f"speaker: {sample.speaker}",
            f"current stage: {stage}",
            f"previous speaker: {previous.role if previous else 'nobody'}",
            f"history length: {min(len(sample.history), 3)}",
            *(f"cue: {cue}" for cue in (self.lexicon.cues(message) if cues is None else cues)),
        ]
        if previous is not None:
            if previous_cues is None:
                previous_cues = self.lexicon.cues(previous.content)
            flags += [f"previous turn cue: {cue}" for cue in previous_cues]
        if _MONEY.search(message):
            flags.append("mentions an amount")
        if _TIME.search(message):
            flags.append("mentions a time")
        if message.rstrip().endswith("?"):
            flags.append(f"question from the {sample.speaker}")
        if len(message.split()) <= SHORT_WORDS:
            flags.append(f"short message, current stage: {stage}")
        return flags

    def fit(self, samples: Sequence[Sample]) -> Featurizer:
        texts = [self._texts(s) for s in samples]
        names: list[str] = []
        for position, block in enumerate(self.blocks):
            block.offset = len(names)
            names += [f'{block.name} "{term}"' for term in block.fit([t[position] for t in texts])]
        seen = sorted({flag for s in samples for flag in self.flags(s)})
        self.flag_columns = {flag: len(names) + i for i, flag in enumerate(seen)}
        self.names = names + seen
        return self

    def set_reader(self, reader: TurnReader) -> None:
        """Add the context features, which read earlier turns with `reader` (fitted on this featurizer's rows)."""
        stages = [s.replace("_", " ") for s in reader.classes]
        names = [
            *(f"{where} {role} turn reads as {s}"
              for where in ("previous", "earlier") for role in ("seller", "customer") for s in stages),
            *(f"short reply to a {s} turn" for s in stages),
            *(f"{cue.replace('_', ' ')} in reply to a {s} turn" for cue in REPLY_CUES for s in stages),
        ]
        self.reader = reader
        self.context_columns = {name: len(self.names) + i for i, name in enumerate(names)}
        self.names += names

    def context(self, sample: Sample, cues: list[str], previous_cues: list[str]) -> list[tuple[int, float]]:
        """Columns and values saying what the last two turns read as, and how the message answers the last one."""
        if self.reader is None:
            return []
        columns, found = self.context_columns, []
        stages = [s.replace("_", " ") for s in self.reader.classes]
        replies = [cue.replace("_", " ") for cue in cues if cue in REPLY_CUES]
        short = len(sample.message.split()) <= SHORT_WORDS
        for back, weight in enumerate(RECENT[: len(sample.history)], start=1):
            turn = sample.history[-back]
            alone = Sample(turn.content, turn.role)
            read = self.reader.read(*self._message_vector(alone, previous_cues if back == 1 else None))
            where = "previous" if back == 1 else "earlier"
            for stage, p in zip(stages, read.tolist(), strict=True):
                found.append((columns[f"{where} {turn.role} turn reads as {stage}"], weight * p))
                if back == 1:
                    if short:
                        found.append((columns[f"short reply to a {stage} turn"], p))
                    found += [(columns[f"{reply} in reply to a {stage} turn"], p) for reply in replies]
        return found

    def _message_vector(
        self, sample: Sample, cues: list[str] | None = None, previous_cues: list[str] | None = None
    ) -> tuple[IntArray, FloatArray]:
        """The features of the sample without the context ones: what the turn reader reads."""
        indices: list[int] = []
        values: list[float] = []
        for block, text in zip(self.blocks, self._texts(sample), strict=True):
            if text:
                block.add(text, indices, values)
        for flag in self.flags(sample, cues, previous_cues):
            column = self.flag_columns.get(flag)
            if column is not None:
                indices.append(column)
                values.append(1.0)
        return np.asarray(indices, dtype=np.int64), np.asarray(values, dtype=np.float64)

    def vector(self, sample: Sample) -> tuple[IntArray, FloatArray]:
        """Column indices and values of the sample's non-zero features."""
        # Each text's cue groups are found once: the last turn's serve its flags and its reading.
        cues = self.lexicon.cues(sample.message)
        previous_cues = self.lexicon.cues(sample.history[-1].content) if sample.history else []
        indices, values = self._message_vector(sample, cues, previous_cues)
        context = self.context(sample, cues, previous_cues)
        if not context:
            return indices, values
        columns, weights = zip(*context, strict=True)
        return (
            np.concatenate([indices, np.asarray(columns, dtype=np.int64)]),
            np.concatenate([values, np.asarray(weights, dtype=np.float64)]),
        )

    def matrix(self, samples: Sequence[Sample]) -> sparse.csr_matrix:
        rows = [self.vector(s) for s in samples]
        indptr = np.cumsum([0, *(len(i) for i, _ in rows)])
        indices = np.concatenate([i for i, _ in rows])
        values = np.concatenate([v for _, v in rows])
        return sparse.csr_matrix((values, indices, indptr), shape=(len(rows), len(self.names)))
