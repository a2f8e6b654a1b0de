"""The learned half of compliance_check: a sentence classifier for the categories that are a matter of meaning.

Outcome guarantees, pressure, disparagement and prompt injection are said in too many ways for patterns
("a sure thing", "I'd stake my job on it", "SYSTEM OVERRIDE"), and so are their denials ("nobody can promise
that"). A multinomial logistic regression over TF-IDF word (1-2) and character (2-5) n-grams reads one
sentence at a time and gives each label a probability, calibrated by a temperature fitted on held-out
sentences. Per category it carries two thresholds picked on that held-out part of the training data (never
on an evaluation set): `flag` (at or above it the sentence is a violation) and `veto` (below it, a pattern
hit of that category in the sentence is taken as a false alarm).

The held-out part is split by `group` (the hand-written sentence a training line was composed from), so that
its variants never sit on both sides and the thresholds are chosen on phrasings the model has not seen.
Training is deterministic: the same data gives a byte-identical model file.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import numpy.typing as npt
import sklearn
from scipy import sparse
from scipy.optimize import minimize_scalar
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupShuffleSplit

from salesboost.config import DATA_DIR

FloatArray = npt.NDArray[np.float64]
NONE = "none"
LABELS: tuple[str, ...] = (
    NONE, "guaranteed_outcome", "prompt_injection", "pressure_tactic", "competitor_disparagement",
)
FORMAT = 1
SEED = 0
HELD_OUT = 0.25
MIN_PER_LABEL = 50
# Threshold candidates; `flag` maximises F1 on the held-out part (ties: the higher threshold).
GRID = tuple(round(0.05 * k, 2) for k in range(2, 19))
# `veto` is the largest threshold that still keeps this share of the held-out positives of the category.
VETO_KEEP = 0.99
TRAIN_COMMAND = "salesboost train compliance"
DEFAULT_DATA = DATA_DIR / "compliance" / "training.jsonl"

# Sentence ends, line breaks; a piece shorter than MIN_WORDS ("Guaranteed.", "Trust me.") joins the one before.
_SENTENCE_END = re.compile(r"[.!?]+(?=\s)|\n")
_WORD = re.compile(r"\w+")
MIN_WORDS = 3


class ComplianceModelError(RuntimeError):
    """The model file or the training data cannot be used; the message says how to fix it."""


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    label: str
    group: str


@dataclass(frozen=True, slots=True)
class Metrics:
    """Scores on the held-out groups of a model trained on the other groups, at the chosen thresholds."""

    examples: int
    held_out: int
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
        if spans and len(_WORD.findall(text, start, end)) < MIN_WORDS:
            spans[-1] = (spans[-1][0], end)
        elif spans and len(_WORD.findall(text, *spans[-1])) < MIN_WORDS:
            spans[-1] = (spans[-1][0], end)  # a short opener ("Look.", "Rep:") joins what follows
        else:
            spans.append((start, end))
    return spans


# --- the classifier ------------------------------------------------------------------------------------------


def _vectorizers() -> tuple[TfidfVectorizer, TfidfVectorizer]:
    words = TfidfVectorizer(
        lowercase=True, ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w[\w'’]*\b", dtype=np.float64
    )
    chars = TfidfVectorizer(
        lowercase=True, analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True, dtype=np.float64
    )
    return words, chars


def _softmax(z: FloatArray) -> FloatArray:
    e: FloatArray = np.exp(z - z.max(axis=-1, keepdims=True))
    total: FloatArray = e.sum(axis=-1, keepdims=True)
    return e / total


@dataclass(slots=True)
class ComplianceModel:
    words: TfidfVectorizer
    chars: TfidfVectorizer
    weights: FloatArray  # (labels, features)
    bias: FloatArray  # (labels,)
    temperature: float
    flag: dict[str, float]
    veto: dict[str, float]
    metrics: Metrics | None = None

    @classmethod
    def fit(cls, examples: Sequence[Example]) -> ComplianceModel:
        words, chars = _vectorizers()
        texts = [e.text for e in examples]
        x = sparse.hstack([words.fit_transform(texts), chars.fit_transform(texts)], format="csr")
        # Pickled as a set, whose order changes with the hash seed; prediction never reads it.
        words.stop_words_ = chars.stop_words_ = None  # type: ignore[assignment]
        regression = LogisticRegression(C=20.0, solver="newton-cg", max_iter=1000)
        regression.fit(x, np.array([LABELS.index(e.label) for e in examples]))
        if tuple(regression.classes_) != tuple(range(len(LABELS))):
            raise ComplianceModelError("every label needs training examples")
        flag = {label: 0.5 for label in LABELS[1:]}
        return cls(words, chars, regression.coef_, regression.intercept_, 1.0, flag, dict.fromkeys(flag, 0.0))

    def probabilities(self, texts: Sequence[str]) -> FloatArray:
        """One row per text: the calibrated probability of each of `LABELS`."""
        x = sparse.hstack([self.words.transform(texts), self.chars.transform(texts)], format="csr")
        logits: FloatArray = np.asarray(x @ self.weights.T) + self.bias
        return _softmax(logits / self.temperature)

    def calibrate(self, examples: Sequence[Example]) -> None:
        """Temperature (least log loss), then the `flag` and `veto` thresholds, on examples not trained on."""
        texts = [e.text for e in examples]
        x = sparse.hstack([self.words.transform(texts), self.chars.transform(texts)], format="csr")
        logits = np.asarray(x @ self.weights.T) + self.bias
        truth = np.array([LABELS.index(e.label) for e in examples])
        rows = np.arange(len(truth))

        def loss(log_t: float) -> float:
            p = _softmax(logits / math.exp(log_t))
            return float(-np.mean(np.log(p[rows, truth] + 1e-12)))

        self.temperature = math.exp(float(minimize_scalar(loss, bounds=(-3.0, 3.0), method="bounded").x))
        p = _softmax(logits / self.temperature)
        for k, label in enumerate(LABELS[1:], start=1):
            positive = truth == k
            self.flag[label] = max(GRID, key=lambda t: (_f1(p[:, k] >= t, positive), t))
            kept = np.sort(p[positive, k])
            self.veto[label] = float(min(kept[int(len(kept) * (1 - VETO_KEEP))], self.flag[label]))

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """Per text, the probability of each category (not of `none`)."""
        if not texts:
            return []
        p = self.probabilities(texts)
        return [{label: float(row[k]) for k, label in enumerate(LABELS) if k} for row in p]


def _f1(predicted: npt.NDArray[np.bool_], positive: npt.NDArray[np.bool_]) -> float:
    tp = int(np.sum(predicted & positive))
    return 2 * tp / (int(predicted.sum()) + int(positive.sum()) or 1)


def _metrics(model: ComplianceModel, examples: Sequence[Example], total: int) -> Metrics:
    """Accuracy of the decision the tool makes (the most probable category at or above its flag, else none)."""
    scores = model.score([e.text for e in examples])
    decided = [max((c for c in s if s[c] >= model.flag[c]), key=s.__getitem__, default=NONE) for s in scores]
    gold = [e.label for e in examples]
    precision, recall = {}, {}
    for label in LABELS[1:]:
        tp = sum(1 for d, g in zip(decided, gold, strict=True) if d == g == label)
        precision[label] = tp / max(1, decided.count(label))
        recall[label] = tp / max(1, gold.count(label))
    accuracy = sum(1 for d, g in zip(decided, gold, strict=True) if d == g) / len(gold)
    return Metrics(total, len(examples), accuracy, precision, recall)


def train(examples: Sequence[Example]) -> ComplianceModel:
    """Fit on 75% of the groups, calibrate and pick thresholds on the other 25%, then fit on everything.

    The final model keeps the held-out temperature and thresholds: they need predictions on unseen phrasings.
    """
    split = GroupShuffleSplit(n_splits=1, test_size=HELD_OUT, random_state=SEED)
    train_idx, test_idx = next(split.split(examples, groups=[e.group for e in examples]))
    train_part, test_part = [examples[i] for i in train_idx], [examples[i] for i in test_idx]
    held = ComplianceModel.fit(train_part)
    held.calibrate(test_part)
    model = ComplianceModel.fit(examples)
    model.temperature, model.flag, model.veto = held.temperature, held.flag, held.veto
    model.metrics = _metrics(held, test_part, len(examples))
    return model


def train_from_file(path: Path) -> ComplianceModel:
    return train(load_examples(path))


# --- the model file ------------------------------------------------------------------------------------------


def save(model: ComplianceModel, path: Path) -> None:
    """Write atomically, with the scikit-learn version it needs to load."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "sklearn": sklearn.__version__, "model": model}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        joblib.dump(payload, tmp, compress=3)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load(path: Path) -> ComplianceModel:
    """The trained model; a missing or stale file names the command that rebuilds it.

    The file is a pickle: load only files this project built (it lives under var/, never user input).
    """
    if not path.is_file():
        raise ComplianceModelError(f"compliance model not found at {path}; build it with `{TRAIN_COMMAND}`")
    try:
        payload = joblib.load(path)
    except Exception as exc:  # a truncated or foreign file: any unpickling error means "rebuild"
        raise ComplianceModelError(f"cannot load {path} ({exc}); rebuild it with `{TRAIN_COMMAND}`") from exc
    if not isinstance(payload, dict):
        payload = {}
    built = (payload.get("format"), payload.get("sklearn"))
    if built != (FORMAT, sklearn.__version__):
        raise ComplianceModelError(
            f"{path} was built by another version (format {built[0]}, scikit-learn {built[1]}; this is format "
            f"{FORMAT}, scikit-learn {sklearn.__version__}); rebuild it with `{TRAIN_COMMAND}`"
        )
    model = payload["model"]
    if not isinstance(model, ComplianceModel):
        raise ComplianceModelError(f"{path} does not hold a compliance model; rebuild it with `{TRAIN_COMMAND}`")
    return model


@lru_cache(maxsize=4)
def load_cached(path: Path) -> ComplianceModel:
    """`load`, once per process and path: every engine of the process shares the model."""
    return load(path)
