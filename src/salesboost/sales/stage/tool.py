"""stage_classifier: which sales stage a conversation is in, and what the latest message is doing.

A trained model (see `stage.model`), built from the labelled set in `data/stage/` by
`salesboost train stage-classifier`, reads the message with its history and the current stage. Its
confidence is the calibrated probability of the stage it picked; `signals` name the features that pushed
hardest towards it. A blank message carries no evidence: the answer is the current stage (or opening) with
the confidence of a uniform guess.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, field_validator

from salesboost.sales.stage.labels import INTENTS, STAGES, Intent, Role, Stage
from salesboost.tools.base import Heavy, Tool, ToolBackends, ToolContext, ToolInput, ToolOutput, ToolPolicy

if TYPE_CHECKING:
    from salesboost.sales.stage.model import StageModel

ALTERNATIVES = 3


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


class HistoryTurn(ToolInput):
    role: Role
    content: str = Field(max_length=5000, description="What was said, at most 5000 characters.")

    _role = field_validator("role", mode="before")(_lower)


class StageInput(ToolInput):
    message: str = Field(
        "", max_length=5000, description="The latest message, at most 5000 characters (empty: nothing said yet)."
    )
    speaker: Role = Field("customer", description="Who wrote the message.")
    history: list[HistoryTurn] = Field(
        default_factory=list,
        max_length=200,
        description="Earlier turns, oldest first, at most 200 (the last few matter most).",
    )
    current_stage: Stage | None = Field(None, description="The stage the conversation was in before this message.")

    _words = field_validator("speaker", "current_stage", mode="before")(_lower)


class StageProbability(BaseModel):
    stage: Stage
    probability: float


class StageOutput(ToolOutput):
    stage: Stage
    intent: Intent
    confidence: float = Field(description="Calibrated probability of `stage` (0-1).")
    intent_confidence: float = Field(description="Calibrated probability of `intent` (0-1).")
    alternatives: list[StageProbability] = Field(description="The next most likely stages.")
    signals: list[str] = Field(description="What drove the decision, strongest first.")


class StageClassifierTool(Tool[StageInput, StageOutput]):
    name = "stage_classifier"
    description = (
        "Classify where a sales conversation stands: the stage (opening, discovery, presentation, "
        "objection_handling, closing, follow_up) and the intent of the latest message (greeting, "
        "needs_statement, product_inquiry, price_inquiry, price_objection, competitor_comparison, hesitation, "
        "positive_feedback, commitment, scheduling, other), with calibrated confidence and the signals behind "
        "it. Pass the recent history and the current stage: a short reply like 'yes, let's do it' means "
        "different things after a price quote and after a greeting."
    )
    Input = StageInput
    Output = StageOutput
    # About 100-200 µs of Python per call (measured in docs/stage_classifier.md): too slow to hold the event
    # loop, so it runs in the thread pool. Deterministic, so a retry would give the same answer.
    policy = ToolPolicy(read_only=True, idempotent=True, timeout=2.0, retry=False)
    examples = (
        {"message": "Yes, let's do it.", "speaker": "customer",
         "history": [{"role": "seller", "content": "With the 10% discount that's 24,030 a year for 25 seats."}]},
        {"message": "Hi Dana, this is Sam from SalesBoost.", "speaker": "seller"},
        {"message": "That's more than we budgeted.", "current_stage": "presentation"},
    )

    def __init__(self, model_path: Path) -> None:
        # numpy, scipy and scikit-learn cost about a second to import: only a process that classifies pays it.
        self.model = Heavy("the stage model", lambda: _load(model_path))

    def heavy_parts(self) -> tuple[Heavy[StageModel]]:
        return (self.model,)

    def run(self, args: StageInput, ctx: ToolContext) -> StageOutput:
        if not args.message.strip():
            return self._no_evidence(args.current_stage)
        model = self.model.get()
        from salesboost.sales.stage.features import Sample, Turn  # loaded with the model

        sample = Sample(
            message=args.message,
            speaker=args.speaker,
            history=tuple(Turn(t.role, t.content) for t in args.history),
            current_stage=args.current_stage,
        )
        p = model.predict(sample)
        ranked = sorted(p.stage_probabilities.items(), key=lambda kv: -kv[1])
        return StageOutput(
            stage=p.stage,
            intent=p.intent,
            confidence=round(p.stage_confidence, 4),
            intent_confidence=round(p.intent_confidence, 4),
            alternatives=[
                StageProbability(stage=s, probability=round(q, 4))
                for s, q in ranked if s != p.stage
            ][:ALTERNATIVES],
            signals=p.signals,
        )

    @staticmethod
    def _no_evidence(current: Stage | None) -> StageOutput:
        """Nothing to classify: keep the stage we were in (or opening), as unsure as a uniform guess."""
        stage: Stage = current or "opening"
        uniform = round(1 / len(STAGES), 4)
        return StageOutput(
            stage=stage,
            intent="other",
            confidence=uniform,
            intent_confidence=round(1 / len(INTENTS), 4),
            alternatives=[
                StageProbability(stage=s, probability=uniform)
                for s in STAGES if s != stage
            ][:ALTERNATIVES],
            signals=[f"empty message: no evidence, so the stage stays {stage.replace('_', ' ')}"],
        )

    def preview(self, output: StageOutput) -> str:
        return f"{output.stage} / {output.intent} ({output.confidence:.0%})"


def _load(path: Path) -> StageModel:
    from salesboost.sales.stage.model import load

    return load(path)


def build(backends: ToolBackends) -> StageClassifierTool:
    """The model loads on first use (or when the service warms it); a missing file fails the call with the
    command that builds it."""
    return StageClassifierTool(backends.settings.stage_model_path)
