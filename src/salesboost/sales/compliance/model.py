"""The learned half of compliance_check: a sentence classifier for the categories that are a matter of meaning.

Outcome guarantees, pressure, disparagement and prompt injection are said in too many ways for patterns
("a sure thing", "I'd stake my job on it", "SYSTEM OVERRIDE"), and so are their denials ("nobody can promise
that"). A multinomial logistic regression over TF-IDF word (1-2) and character (2-5) n-grams reads one
sentence at a time and gives each label a probability, calibrated by a temperature. Per category it carries
a threshold, `flag`: at or above it the sentence is a violation. Temperature and thresholds are chosen on
out-of-fold predictions of the training data (never on an evaluation set), in folds by `group` (the
hand-written sentence a training line was composed from), so that a sentence's variants never sit on both
sides and every choice is made on phrasings the scoring model has not seen.

Training is deterministic (sorted input, deterministic solver and folds): the same data gives a
byte-identical model file.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.optimize import minimize_scalar
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from salesboost.config import DATA_DIR
from salesboost.sales import model_file

FloatArray = npt.NDArray[np.float64]
NONE = "none"
LABELS: tuple[str, ...] = (
    NONE, "guaranteed_outcome", "prompt_injection", "pressure_tactic", "competitor_disparagement",
)
FORMAT = 1
FOLDS = 4
MIN_PER_LABEL = 50
# Threshold candidates; `flag` maximises F-beta out of fold (ties: the higher threshold). Beta below 1
# weighs precision more: the patterns already catch the plain phrasings, the model must not cry wolf. The
# categories the default pack blocks on take a larger beta: a missed guarantee or injection goes out, and
# their recall, not their precision, was short of the goal (docs/evaluation.md).
BETA = {"guaranteed_outcome": 0.75, "prompt_injection": 0.75, "pressure_tactic": 0.5, "competitor_disparagement": 0.5}
GRID = tuple(round(0.05 * k, 2) for k in range(2, 19))
TRAIN_COMMAND = "salesboost train compliance"
DEFAULT_DATA = DATA_DIR / "compliance" / "training.jsonl"

# Sentence ends, line breaks; a piece shorter than MIN_WORDS ("Guaranteed.", "Trust me.") joins the one before.
_SENTENCE_END = re.compile(r"[.!?]+(?=\s)|\n")
_WORD = re.compile(r"\w+")
MIN_WORDS = 3
CHAR_NGRAMS = (2, 5)


class ComplianceModelError(RuntimeError):
    """The model file or the training data cannot be used; the message says how to fix it."""


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    label: str
    group: str


@dataclass(frozen=True, slots=True)
class Metrics:
    """Out-of-fold scores (each sentence scored by a model that never saw its group), at the chosen thresholds."""

    examples: int
    accuracy: float
    precision: dict[str, float]
    recall: dict[str, float]


# --- data files ----------------------------------------------------------------------------------------------


def load_examples(path: Path) -> list[Example]:
    """The labelled sentences, one JSON object a line (`text`, `label`, `group`); a bad line names its number."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ComplianceModelError(f"cannot read training data {path}: {exc}") from exc
    examples: dict[str, Example] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            raw: Any = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ComplianceModelError(f"{where}: not valid JSON: {exc}") from None
        if not isinstance(raw, dict) or not all(isinstance(raw.get(k), str) for k in ("text", "label", "group")):
            raise ComplianceModelError(f"{where}: each line needs the strings text, label and group")
        if raw["label"] not in LABELS:
            raise ComplianceModelError(f"{where}: label must be one of {', '.join(LABELS)}, got {raw['label']!r}")
        if raw["text"] in examples:
            raise ComplianceModelError(f"{where}: duplicate text {raw['text']!r}")
        examples[raw["text"]] = Example(raw["text"], raw["label"], raw["group"])
    counts = {label: sum(1 for e in examples.values() if e.label == label) for label in LABELS}
    scarce = sorted(label for label, n in counts.items() if n < MIN_PER_LABEL)
    if scarce:
        raise ComplianceModelError(f"{path}: need {MIN_PER_LABEL} examples of each label; too few: {', '.join(scarce)}")
    return [examples[text] for text in sorted(examples)]  # sorted: the file's order does not change the model


# --- sentences -----------------------------------------------------------------------------------------------


def sentences(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences of `text` (stripped), a very short one merged into the sentence before it."""
    spans: list[tuple[int, int]] = []
    ends = [m.end() for m in _SENTENCE_END.finditer(text)] + [len(text)]
    for start, end in zip([0, *ends[:-1]], ends, strict=True):
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start == end:
            continue
        if spans and word_count(text, start, end) < MIN_WORDS:
            spans[-1] = (spans[-1][0], end)
        elif spans and word_count(text, *spans[-1]) < MIN_WORDS:
            spans[-1] = (spans[-1][0], end)  # a short opener ("Look.", "Rep:") joins what follows
        else:
            spans.append((start, end))
    return spans


def word_count(text: str, start: int, end: int) -> int:
    return len(_WORD.findall(text, start, end))


# --- the classifier ------------------------------------------------------------------------------------------


def char_ngrams(text: str) -> list[str]:
    """Character 2- to 5-grams of each lower-cased word padded with a space (scikit-learn's `char_wb`,
    with list comprehensions: the analyzer is most of a check's cost). A word shorter than n counts once."""
    grams: list[str] = []
    for word in text.lower().split():
        padded = f" {word} "
        size = len(padded)
        for n in range(CHAR_NGRAMS[0], CHAR_NGRAMS[1] + 1):
            if size <= n:
                grams.append(padded)
                break
            grams += [padded[i : i + n] for i in range(size - n + 1)]
    return grams


def _vectorizers() -> tuple[TfidfVectorizer, TfidfVectorizer]:
    words = TfidfVectorizer(
        lowercase=True, ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w[\w'’]*\b", dtype=np.float64
    )
    chars = TfidfVectorizer(analyzer=char_ngrams, min_df=2, sublinear_tf=True, dtype=np.float64)
    return words, chars


def _softmax(z: FloatArray) -> FloatArray:
    e: FloatArray = np.exp(z - z.max(axis=-1, keepdims=True))
    total: FloatArray = e.sum(axis=-1, keepdims=True)
    return e / total


@dataclass(slots=True)
class ComplianceModel:
    words: TfidfVectorizer
    chars: TfidfVectorizer
    weights: FloatArray  # (features, labels): a sentence reads a few contiguous rows
    bias: FloatArray  # (labels,)
    idf: FloatArray  # both vectorizers' IDF weights, words then characters, as the weight rows
    temperature: float
    flag: dict[str, float]
    metrics: Metrics | None = None

    @classmethod
    def fit(cls, examples: Sequence[Example]) -> ComplianceModel:
        words, chars = _vectorizers()
        texts = [e.text for e in examples]
        x = sparse.hstack([words.fit_transform(texts), chars.fit_transform(texts)], format="csr")
        for vectorizer in (words, chars):
            # A set (its pickled order follows the hash seed) and a memory address: prediction needs neither.
            vectorizer.stop_words_ = None
            vars(vectorizer).pop("_stop_words_id", None)
        regression = LogisticRegression(C=20.0, solver="newton-cg", max_iter=1000)
        regression.fit(x, np.array([LABELS.index(e.label) for e in examples]))
        if tuple(regression.classes_) != tuple(range(len(LABELS))):
            raise ComplianceModelError("every label needs training examples")
        flag = dict.fromkeys(LABELS[1:], 0.5)  # until `train` sets the thresholds chosen out of fold
        idf = np.concatenate([words.idf_, chars.idf_])
        return cls(words, chars, np.ascontiguousarray(regression.coef_.T), regression.intercept_, idf, 1.0, flag)

    def probabilities(self, texts: Sequence[str]) -> FloatArray:
        """One row per text: the calibrated probability of each of `LABELS`.

        What `TfidfVectorizer.transform` and the regression compute (sublinear TF x IDF, L2 norm per
        vectorizer, one dot product), for all the texts at once and without their per-call overhead (about
        1 ms a sentence): a check costs one pass of Python over the n-grams and a few numpy calls.
        """
        features: list[int] = []  # the vectorizer's feature index, -1 for an n-gram not in its vocabulary
        counts: list[int] = []
        rows: list[int] = []  # 2 * text + vectorizer: each is L2-normalised on its own
        for v, vectorizer in enumerate((self.words, self.chars)):
            analyze, index = vectorizer.build_analyzer(), vectorizer.vocabulary_.get
            for t, text in enumerate(texts):
                grams = Counter(analyze(text))
                features.extend(map(index, grams, repeat(-1)))
                counts.extend(grams.values())
                rows.extend(repeat(2 * t + v, len(grams)))
        j, n, row = np.array(features, dtype=np.intp), np.array(counts, dtype=np.float64), np.array(rows)
        known = j >= 0
        j = j[known] + np.where(row[known] % 2, len(self.words.vocabulary_), 0)  # the chars' columns come second
        n, row = n[known], row[known]
        tfidf = (1.0 + np.log(n)) * self.idf[j]
        norms = np.sqrt(np.bincount(row, tfidf * tfidf, minlength=2 * len(texts)))
        tfidf /= norms[row]
        contributions = tfidf[:, None] * self.weights[j]
        logits = np.stack(
            [np.bincount(row // 2, contributions[:, k], minlength=len(texts)) for k in range(len(LABELS))], axis=1
        )
        return _softmax((logits + self.bias) / self.temperature)

    def logits(self, texts: Sequence[str]) -> FloatArray:
        """Uncalibrated scores through scikit-learn's own transform (training only; `probabilities` is faster)."""
        x = sparse.hstack([self.words.transform(texts), self.chars.transform(texts)], format="csr")
        return np.asarray(x @ self.weights) + self.bias

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """Per text, the probability of each category (not of `none`)."""
        if not texts:
            return []
        p = self.probabilities(texts)
        return [{label: float(row[k]) for k, label in enumerate(LABELS) if k} for row in p]


def _f_beta(predicted: npt.NDArray[np.bool_], positive: npt.NDArray[np.bool_], beta: float) -> float:
    tp = int(np.sum(predicted & positive))
    b2 = beta * beta
    return (1 + b2) * tp / (int(predicted.sum()) + b2 * int(positive.sum()) or 1)


def _calibrate(logits: FloatArray, truth: npt.NDArray[np.intp]) -> tuple[float, dict[str, float]]:
    """The temperature of least log loss, then per category the threshold of best F-beta (ties: the higher)."""
    rows = np.arange(len(truth))

    def loss(log_t: float) -> float:
        p = _softmax(logits / math.exp(log_t))
        return float(-np.mean(np.log(p[rows, truth] + 1e-12)))

    temperature = math.exp(float(minimize_scalar(loss, bounds=(-3.0, 3.0), method="bounded").x))
    p = _softmax(logits / temperature)
    flag = {}
    for k, label in enumerate(LABELS[1:], start=1):
        positive = truth == k
        flag[label] = max(GRID, key=lambda t: (_f_beta(p[:, k] >= t, positive, BETA[label]), t))
    return temperature, flag


def _metrics(p: FloatArray, truth: npt.NDArray[np.intp], flag: dict[str, float]) -> Metrics:
    """Scores of the decision the tool makes: the most probable category at or above its threshold, else none."""
    thresholds = np.array([np.inf, *(flag[label] for label in LABELS[1:])])
    flagged = np.where(p >= thresholds, p, -1.0)
    decided = np.where(flagged.max(axis=1) >= 0, flagged.argmax(axis=1), 0)
    precision, recall = {}, {}
    for k, label in enumerate(LABELS[1:], start=1):
        tp = int(np.sum((decided == k) & (truth == k)))
        precision[label] = tp / max(1, int(np.sum(decided == k)))
        recall[label] = tp / max(1, int(np.sum(truth == k)))
    return Metrics(len(truth), float(np.mean(decided == truth)), precision, recall)


def train(examples: Sequence[Example]) -> ComplianceModel:
    """Fit on everything, with the temperature and thresholds chosen on out-of-fold predictions.

    Each of `FOLDS` group folds (`group`: the hand-written sentence a line was composed from) is scored by a
    model trained on the others, so every threshold is picked on phrasings the scoring model has not seen.
    """
    truth = np.array([LABELS.index(e.label) for e in examples])
    logits = np.zeros((len(examples), len(LABELS)))
    for train_idx, test_idx in GroupKFold(n_splits=FOLDS).split(examples, groups=[e.group for e in examples]):
        fold = ComplianceModel.fit([examples[i] for i in train_idx])
        logits[test_idx] = fold.logits([examples[i].text for i in test_idx])
    temperature, flag = _calibrate(logits, truth)
    model = ComplianceModel.fit(examples)
    model.temperature, model.flag = temperature, flag
    model.metrics = _metrics(_softmax(logits / temperature), truth, flag)
    return model


def train_from_file(path: Path) -> ComplianceModel:
    return train(load_examples(path))


# --- the model file ------------------------------------------------------------------------------------------


def save(model: ComplianceModel, path: Path) -> None:
    model_file.save(model, path, FORMAT)


def load(path: Path) -> ComplianceModel:
    """The trained model; a missing or stale file names the command that rebuilds it."""
    return model_file.load(path, ComplianceModel, FORMAT, ComplianceModelError, "compliance model", TRAIN_COMMAND)


@lru_cache(maxsize=4)
def load_cached(path: Path) -> ComplianceModel:
    """`load`, once per process and path: every engine of the process shares the model."""
    return load(path)
