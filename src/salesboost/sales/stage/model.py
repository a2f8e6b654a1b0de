"""The stage classifier's model: training, calibration, prediction, and the model file.

A turn reader (a multinomial logistic regression over the features of a message on its own) is fitted
first; the feature row (see `stage.features`) then includes what it reads in the last two turns. Two
multinomial logistic regressions read that row: one for the stage, one for the intent. Each is calibrated
by a temperature fitted on held-out predictions, so its confidence is a real probability. scikit-learn fits
the weights; prediction is one small matrix product done here.
Training is deterministic: the same data gives the same model file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import minimize_scalar
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedGroupKFold

from salesboost.sales import model_file
from salesboost.sales.stage.features import (
    Featurizer,
    FloatArray,
    IntArray,
    Lexicon,
    Sample,
    Turn,
    TurnReader,
    load_lexicon,
    softmax,
)
from salesboost.sales.stage.labels import INTENTS, ROLES, STAGES, Intent, Role, Stage

__all__ = ["INTENTS", "ROLES", "STAGES", "Intent", "Role", "Stage"]  # the model's labels, defined in `labels`

FORMAT = 3  # 3: the featurizer holds a turn reader and context features
SEED = 0
FOLDS = 5  # the held-out part is one fold in five
C = 10.0  # inverse regularisation of the stage and intent classifiers
READER_C = 10.0  # and of the turn reader; both chosen on the held-out fold of the training data
MIN_PER_LABEL = 10  # enough to appear on both sides of the held-out split
TRAIN_COMMAND = "salesboost train stage-classifier"


class StageModelError(RuntimeError):
    """The model file or the training data cannot be used; the message says how to fix it."""


@dataclass(frozen=True, slots=True)
class Example:
    id: str
    sample: Sample
    stage: str
    intent: str


@dataclass(frozen=True, slots=True)
class Prediction:
    stage: str
    stage_confidence: float
    intent: str
    intent_confidence: float
    stage_probabilities: dict[str, float]
    signals: list[str]


@dataclass(frozen=True, slots=True)
class Metrics:
    """Held-out scores of a model trained on the rest of the data."""

    examples: int
    held_out: int
    stage_accuracy: float
    intent_accuracy: float
    stage_macro_f1: float
    intent_macro_f1: float
    stage_accuracy_with_history: float
    stage_accuracy_without_history: float


# --- data files ----------------------------------------------------------------------------------------------


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise StageModelError(f"{where} must be a string")
    return value


def _example(raw: Any, where: str) -> Example:
    if not isinstance(raw, dict):
        raise StageModelError(f"{where}: each line must be a JSON object")
    for key, allowed in (("stage", STAGES), ("intent", INTENTS), ("speaker", ROLES)):
        if raw.get(key) not in allowed:
            raise StageModelError(f"{where}: {key} must be one of {', '.join(allowed)}, got {raw.get(key)!r}")
    current = raw.get("current_stage")
    if current is not None and current not in STAGES:
        raise StageModelError(f"{where}: current_stage must be one of {', '.join(STAGES)}")
    history = []
    for turn in raw.get("history") or []:
        if not isinstance(turn, dict) or turn.get("role") not in ROLES:
            raise StageModelError(f"{where}: history turns need a role of seller or customer")
        history.append(Turn(turn["role"], _text(turn.get("content"), f"{where}: history content")))
    sample = Sample(_text(raw.get("message"), f"{where}: message"), raw["speaker"], tuple(history), current)
    return Example(id=str(raw.get("id") or where), sample=sample, stage=raw["stage"], intent=raw["intent"])


def load_examples(path: Path) -> list[Example]:
    """The labelled set, one JSON object a line; a bad line is reported with its number."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise StageModelError(f"cannot read training data {path}: {exc}") from exc
    examples, ids = [], set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise StageModelError(f"{where}: not valid JSON: {exc}") from None
        example = _example(raw, where)
        if example.id in ids:
            raise StageModelError(f"{where}: duplicate id {example.id}")
        ids.add(example.id)
        examples.append(example)
    counts = {label: 0 for label in (*STAGES, *INTENTS)}
    for e in examples:
        counts[e.stage] += 1
        counts[e.intent] += 1
    scarce = sorted(label for label, n in counts.items() if n < MIN_PER_LABEL)
    if scarce:
        raise StageModelError(f"{path}: need {MIN_PER_LABEL} examples of each label; too few: {', '.join(scarce)}")
    return examples


# --- the classifiers -----------------------------------------------------------------------------------------


def _regression(c: float) -> LogisticRegression:
    # newton-cg: deterministic, and on this wide sparse problem several times faster than lbfgs.
    return LogisticRegression(C=c, solver="newton-cg", max_iter=1000)


@dataclass(slots=True)
class Linear:
    """A fitted multinomial logistic regression with its calibration temperature."""

    classes: tuple[str, ...]
    weights: FloatArray  # (classes, features)
    bias: FloatArray  # (classes,)
    temperature: float = 1.0

    @classmethod
    def fit(cls, x: sparse.csr_matrix, y: Sequence[str], c: float = C) -> Linear:
        model = _regression(c).fit(x, np.asarray(y))
        return cls(tuple(str(c) for c in model.classes_), model.coef_, model.intercept_)

    def probabilities(self, indices: IntArray, values: FloatArray) -> FloatArray:
        scores = self.weights[:, indices] @ values + self.bias
        return softmax(scores / self.temperature)

    def calibrate(self, x: sparse.csr_matrix, y: Sequence[str]) -> None:
        """Fit the temperature that gives the least log loss on examples the model was not trained on."""
        logits = np.asarray(x @ self.weights.T) + self.bias
        truth = np.array([self.classes.index(label) for label in y])
        rows = np.arange(len(truth))

        def loss(log_t: float) -> float:
            p = softmax(logits / math.exp(log_t))
            return float(-np.mean(np.log(p[rows, truth] + 1e-12)))

        self.temperature = math.exp(float(minimize_scalar(loss, bounds=(-3.0, 3.0), method="bounded").x))


@dataclass(slots=True)
class StageModel:
    featurizer: Featurizer
    stage: Linear
    intent: Linear
    metrics: Metrics | None = None

    @classmethod
    def fit(cls, examples: Sequence[Example], lexicon: Lexicon) -> StageModel:
        samples = [e.sample for e in examples]
        stages = [e.stage for e in examples]
        featurizer = Featurizer(lexicon).fit(samples)
        # The turn reader learns each message's stage from the message alone, as a history turn is seen.
        alone = Linear.fit(featurizer.matrix([Sample(s.message, s.speaker) for s in samples]), stages, READER_C)
        featurizer.set_reader(TurnReader(alone.classes, alone.weights, alone.bias))
        x = featurizer.matrix(samples)
        return cls(featurizer, Linear.fit(x, stages), Linear.fit(x, [e.intent for e in examples]))

    def calibrate(self, examples: Sequence[Example]) -> None:
        x = self.featurizer.matrix([e.sample for e in examples])
        self.stage.calibrate(x, [e.stage for e in examples])
        self.intent.calibrate(x, [e.intent for e in examples])

    def predict(self, sample: Sample) -> Prediction:
        indices, values = self.featurizer.vector(sample)
        stage_p = self.stage.probabilities(indices, values)
        intent_p = self.intent.probabilities(indices, values)
        s, i = int(np.argmax(stage_p)), int(np.argmax(intent_p))
        return Prediction(
            stage=self.stage.classes[s],
            stage_confidence=float(stage_p[s]),
            intent=self.intent.classes[i],
            intent_confidence=float(intent_p[i]),
            stage_probabilities=dict(zip(self.stage.classes, map(float, stage_p), strict=True)),
            signals=self._signals(indices, values, s),
        )

    def _signals(self, indices: IntArray, values: FloatArray, label: int, limit: int = 5) -> list[str]:
        """The features that pushed hardest towards the chosen stage (value x weight, largest first)."""
        contributions = values * self.stage.weights[label, indices]
        order = np.argsort(-contributions, kind="stable")[:limit]
        return [self.featurizer.names[indices[k]] for k in order if contributions[k] > 0]


# --- training, evaluation, files ------------------------------------------------------------------------------


def evaluate(model: StageModel, examples: Sequence[Example]) -> tuple[float, ...]:
    """Accuracy and macro F1 of stage and intent on `examples`, then stage accuracy with and without history."""
    predictions = [model.predict(e.sample) for e in examples]
    stages, intents = [e.stage for e in examples], [e.intent for e in examples]
    got_stage, got_intent = [p.stage for p in predictions], [p.intent for p in predictions]
    hits = [(bool(e.sample.history), p.stage == e.stage) for e, p in zip(examples, predictions, strict=True)]
    with_history = [hit for has, hit in hits if has]
    without_history = [hit for has, hit in hits if not has]
    return (
        float(accuracy_score(stages, got_stage)),
        float(accuracy_score(intents, got_intent)),
        float(f1_score(stages, got_stage, average="macro")),
        float(f1_score(intents, got_intent, average="macro")),
        sum(with_history) / max(len(with_history), 1),
        sum(without_history) / max(len(without_history), 1),
    )


def train_from_files(examples: Path) -> StageModel:
    """Train on a labelled set and the `lexicon.yaml` that sits beside it."""
    return train(load_examples(examples), load_lexicon(examples.with_name("lexicon.yaml")))


def train(examples: Sequence[Example], lexicon: Lexicon) -> StageModel:
    """Fit on 80%, score and calibrate on the held-out 20%, then fit on everything.

    The held-out part is stratified by stage and grouped by the last turn of the history: examples that answer
    the same turn fall on one side, so the score measures reading a turn the model has not seen.
    The final model keeps the held-out temperatures: calibration needs predictions on unseen examples.
    """
    groups = [e.sample.history[-1].content if e.sample.history else e.id for e in examples]
    folds = StratifiedGroupKFold(n_splits=FOLDS, shuffle=True, random_state=SEED)
    train_rows, test_rows = next(folds.split(examples, [e.stage for e in examples], groups))
    train_part, test_part = [examples[i] for i in train_rows], [examples[i] for i in test_rows]
    held = StageModel.fit(train_part, lexicon)
    held.calibrate(test_part)
    model = StageModel.fit(examples, lexicon)
    model.stage.temperature, model.intent.temperature = held.stage.temperature, held.intent.temperature
    model.metrics = Metrics(len(examples), len(test_part), *evaluate(held, test_part))
    return model


def save(model: StageModel, path: Path) -> None:
    model_file.save(model, path, FORMAT)


def load(path: Path) -> StageModel:
    """The trained model; a missing or stale file names the command that rebuilds it."""
    return model_file.load(path, StageModel, FORMAT, StageModelError, "stage classifier model", TRAIN_COMMAND)
