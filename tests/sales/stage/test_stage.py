"""stage_classifier: trained from the shipped data in a temporary folder, then exercised through the executor."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from harness import ok as succeeded
from harness import sales_executor
from typer.testing import CliRunner

from salesboost.cli import app
from salesboost.config import DATA_DIR, load_settings
from salesboost.sales import stage
from salesboost.sales.stage.features import Lexicon, LexiconError, load_lexicon
from salesboost.sales.stage.model import (
    INTENTS,
    STAGES,
    StageModel,
    StageModelError,
    load,
    load_examples,
)
from salesboost.tools.base import ToolBackends
from salesboost.tools.executor import ToolExecutor
from salesboost.tools.result import ToolResult

EXAMPLES = DATA_DIR / "stage" / "examples.jsonl"
SALESBOOST = str(Path(sys.executable).with_name("salesboost"))
PRICE_TALK = [
    {"role": "customer", "content": "So what would twenty seats on the Professional plan come to?"},
    {"role": "seller", "content": "That's 1,780 a month; with the 10% annual discount, 19,224 for the year."},
]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The model, trained once for this module by the CLI command users run."""
    path = tmp_path_factory.mktemp("stage-model") / "stage_classifier.joblib"
    result = CliRunner().invoke(app, ["train", "stage-classifier", "--output", str(path)])
    assert result.exit_code == 0, result.output
    assert "held-out" in result.output
    assert "stage accuracy" in result.output
    assert "intent accuracy" in result.output
    assert "with history" in result.output
    return path


@pytest.fixture(scope="module")
def model(model_file: Path) -> StageModel:
    return load(model_file)


@pytest.fixture
async def executor(model_file: Path) -> AsyncIterator[ToolExecutor]:
    backends = ToolBackends(settings=load_settings(audit_enabled=False, stage_model_path=model_file))
    executor = sales_executor(backends, stage.build)
    yield executor
    await executor.aclose()


async def classify(executor: ToolExecutor, payload: dict[str, Any], role: str = "coach") -> ToolResult:
    return await executor.execute("stage_classifier", payload, role)


async def ok(executor: ToolExecutor, payload: dict[str, Any]) -> dict[str, Any]:
    return succeeded(await classify(executor, payload))


# --- training -------------------------------------------------------------------------------------------------


def test_held_out_accuracy_is_above_the_floors(model: StageModel) -> None:
    metrics = model.metrics
    assert metrics is not None
    assert metrics.examples >= 1500
    assert metrics.held_out >= 300
    # Measured on the held-out fold, which holds no turn the training part answers (docs/stage_classifier.md);
    # chance is 1/6 and 1/11.
    assert metrics.stage_accuracy >= 0.75
    assert metrics.intent_accuracy >= 0.72
    assert metrics.stage_macro_f1 >= 0.74
    assert metrics.intent_macro_f1 >= 0.72
    assert metrics.stage_accuracy_with_history >= 0.80
    assert metrics.stage_accuracy_without_history >= 0.70


def test_training_is_reproducible_across_processes(tmp_path: Path) -> None:
    """String hashes and memory addresses change from one process to the next; the model file must not. Two
    fresh processes, as `make model` runs it (a test process that has already built and loaded tools may share
    objects a fresh one does not, which changes how pickle writes them)."""
    digests = []
    for seed in ("1234", "4321"):
        out = tmp_path / f"built-{seed}.joblib"
        built = subprocess.run(
            [SALESBOOST, "train", "stage-classifier", "--output", str(out)],
            env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True, text=True, timeout=600, check=False,
        )
        assert built.returncode == 0, built.stderr
        digests.append(hashlib.sha256(out.read_bytes()).hexdigest())  # a diff of the bytes would take hours
    assert digests[0] == digests[1]


def test_if_missing_keeps_an_existing_model(model_file: Path) -> None:
    before = model_file.stat().st_mtime_ns
    result = CliRunner().invoke(app, ["train", "stage-classifier", "--if-missing", "--output", str(model_file)])
    assert result.exit_code == 0
    assert "not retraining" in result.output
    assert model_file.stat().st_mtime_ns == before


def test_training_on_bad_data_fails_with_the_line(tmp_path: Path) -> None:
    data = tmp_path / "examples.jsonl"
    data.write_text(EXAMPLES.read_text(encoding="utf-8") + '{"message": "hi", "speaker": "bot"}\n', encoding="utf-8")
    (tmp_path / "lexicon.yaml").write_text((EXAMPLES.parent / "lexicon.yaml").read_text(), encoding="utf-8")
    args = ["train", "stage-classifier", "--data", str(data), "--output", str(tmp_path / "m")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    lines = len(EXAMPLES.read_text(encoding="utf-8").splitlines()) + 1
    assert f"examples.jsonl:{lines}" in result.output
    assert not (tmp_path / "m").exists()


# --- behaviour through the executor -----------------------------------------------------------------------------


async def test_yes_after_a_price_discussion_is_closing_commitment(executor: ToolExecutor) -> None:
    out = await ok(executor, {"message": "yes, let's do it", "speaker": "customer", "history": PRICE_TALK})
    assert (out["stage"], out["intent"]) == ("closing", "commitment")
    assert out["confidence"] > 0.5
    assert any("price" in s for s in out["signals"]), out["signals"]


async def test_the_same_reply_means_something_else_after_a_greeting(executor: ToolExecutor) -> None:
    history = [{"role": "seller", "content": "Hi Dana, Sam from SalesBoost. Shall we start with quick introductions?"}]
    out = await ok(executor, {"message": "Sounds good.", "history": history})
    assert out["stage"] == "opening"
    after_price = await ok(executor, {"message": "Sounds good.", "history": PRICE_TALK})
    assert after_price["stage"] == "closing"


# Seller turns and replies written for these tests; none of them is in the training data (checked below).
ASKS = {
    "closing": "All the paperwork is prepared; may I send it to you for e-signature now?",
    "opening": "To begin, I'd propose a round of introductions and then your goals for the quarter. Okay with you?",
    "presentation": "Would it be useful if I put the reporting screen up next?",
    "discovery": "Mind if I ask a few things about how your reps prospect today?",
}
REPLIES = ["Sure, sounds fine.", "Yes, go right ahead.", "That's fine by us."]


@pytest.mark.parametrize("reply", REPLIES)
async def test_the_same_reply_takes_the_stage_of_the_turn_it_answers(executor: ToolExecutor, reply: str) -> None:
    for expected, turn in ASKS.items():
        out = await ok(executor, {"message": reply, "history": [{"role": "seller", "content": turn}]})
        assert out["stage"] == expected, (turn, out)


async def test_what_the_previous_turn_reads_as_is_a_signal(executor: ToolExecutor) -> None:
    out = await ok(executor, {"message": "Yes, go right ahead.",
                              "history": [{"role": "seller", "content": ASKS["closing"]}]})
    assert (out["stage"], out["intent"]) == ("closing", "commitment")
    assert any("in reply to a closing turn" in s or "turn reads as closing" in s for s in out["signals"])


async def test_pushback_after_a_quoted_price_is_an_objection_not_the_quote(executor: ToolExecutor) -> None:
    quote = [{"role": "seller", "content": "For forty seats the yearly figure comes to 51,600."}]
    out = await ok(executor, {"message": "Hm, that's a lot more than we'd hoped to pay.", "history": quote})
    assert (out["stage"], out["intent"]) == ("objection_handling", "price_objection")
    yes = await ok(executor, {"message": "Fine, let's proceed on that basis.", "history": quote})
    assert (yes["stage"], yes["intent"]) == ("closing", "commitment")


async def test_the_last_turn_weighs_more_than_an_older_one(executor: ToolExecutor) -> None:
    older_first = [{"role": "seller", "content": ASKS["opening"]}, {"role": "customer", "content": "Sure."},
                   {"role": "seller", "content": ASKS["closing"]}]
    out = await ok(executor, {"message": "Yes, go right ahead.", "history": older_first})
    assert out["stage"] == "closing"
    out = await ok(executor, {"message": "Yes, go right ahead.", "history": list(reversed(older_first))})
    assert out["stage"] == "opening"


def test_the_test_phrasings_are_not_in_the_training_data() -> None:
    seen = {e.sample.message.lower() for e in load_examples(EXAMPLES)}
    seen |= {t.content.lower() for e in load_examples(EXAMPLES) for t in e.sample.history}
    written = [*ASKS.values(), *REPLIES, "Hm, that's a lot more than we'd hoped to pay.",
               "Fine, let's proceed on that basis.", *(m for m, _ in UNSEEN)]
    assert not [m for m in written if m.lower() in seen]


async def test_the_current_stage_decides_an_ambiguous_reply(executor: ToolExecutor) -> None:
    stages = {s: (await ok(executor, {"message": "ok", "current_stage": s}))["stage"] for s in ("opening", "follow_up")}
    assert stages == {"opening": "opening", "follow_up": "follow_up"}


async def test_a_clear_message_moves_the_stage_on(executor: ToolExecutor) -> None:
    out = await ok(executor, {"message": "Honestly that's way over our budget.", "current_stage": "presentation"})
    assert (out["stage"], out["intent"]) == ("objection_handling", "price_objection")


@pytest.mark.parametrize(
    ("payload", "expected_stage", "expected_intent"),
    [
        ({"message": "Hello Maya, I'm Theo from SalesBoost, thanks for picking up.", "speaker": "seller"},
         "opening", "greeting"),
        ({"message": "Our reps struggle to follow up with leads after the first call."},
         "discovery", "needs_statement"),
        ({"message": "Does the coaching work inside Microsoft Teams calls?"}, "presentation", "product_inquiry"),
        ({"message": "What would it cost for thirty users?"}, "presentation", "price_inquiry"),
        ({"message": "We're also talking to CompetitorB, why are you better?"}, "objection_handling",
         "competitor_comparison"),
        ({"message": "I'm worried my reps won't adopt another tool."}, "objection_handling", "hesitation"),
        ({"message": "Please send the contract, we're ready to sign."}, "closing", "commitment"),
        ({"message": "Just checking in to see whether you had a chance to look at the proposal.", "speaker": "seller"},
         "follow_up", "other"),
    ],
)
async def test_plain_messages(
    executor: ToolExecutor, payload: dict[str, Any], expected_stage: str, expected_intent: str
) -> None:
    out = await ok(executor, payload)
    assert (out["stage"], out["intent"]) == (expected_stage, expected_intent)


UNSEEN = [  # phrasings and styles the training data does not have
    ("gm! quick q - wot does ur tool do for onboarding new AEs?", "presentation"),
    ("Dear Mr. Ibáñez, my name is Oona Virtanen and I lead partnerships at SalesBoost.", "opening"),
    ("Truthfully, we lose most deals because nobody qualifies the budget early enough.", "discovery"),
    ("Your rival quoted us 40% under this, so I'm struggling to see the case.", "objection_handling"),
    ("Agreement signed & returned - pls confirm receipt.", "closing"),
    ("Hey Ida, circling round again on the deck from last Wednesday, any reactions?", "follow_up"),
]


@pytest.mark.parametrize(("message", "expected"), UNSEEN)
async def test_phrasings_not_in_the_training_data(executor: ToolExecutor, message: str, expected: str) -> None:
    speaker = "seller" if expected in ("opening", "follow_up") else "customer"
    out = await ok(executor, {"message": message, "speaker": speaker})
    assert out["stage"] == expected, out


async def test_empty_input_is_opening_with_low_confidence(executor: ToolExecutor) -> None:
    for payload in ({}, {"message": ""}, {"message": "   \n "}):
        out = await ok(executor, payload)
        assert out["stage"] == "opening"
        assert out["intent"] == "other"
        assert out["confidence"] < 0.2
        assert out["signals"][0].startswith("empty message")
    kept = await ok(executor, {"message": "", "current_stage": "closing"})
    assert kept["stage"] == "closing"
    assert kept["confidence"] < 0.2


async def test_confidence_is_a_probability_that_varies(executor: ToolExecutor) -> None:
    messages = ["Hi there!", "Hmm.", "We need better coaching for new hires.", "Maybe.", "Send the contract.",
                "Can you tell me more?"]
    outs = [await ok(executor, {"message": m}) for m in messages]
    confidences = [o["confidence"] for o in outs]
    assert len(set(confidences)) >= 4
    assert all(0 < c < 1 for c in confidences)
    assert min(confidences) < 0.75 < max(confidences)
    for out in outs:
        alternatives = [a["probability"] for a in out["alternatives"]]
        assert len(alternatives) == 3
        assert alternatives == sorted(alternatives, reverse=True)
        assert out["confidence"] >= alternatives[0]
        assert out["confidence"] + sum(alternatives) <= 1.0 + 1e-3
        assert out["stage"] not in [a["stage"] for a in out["alternatives"]]


async def test_case_of_speaker_role_and_stage_does_not_matter(executor: ToolExecutor) -> None:
    lower = await ok(executor, {"message": "Sounds good.", "speaker": "customer", "history": PRICE_TALK,
                                "current_stage": "closing"})
    upper = await ok(executor, {"message": "Sounds good.", "speaker": "Customer", "current_stage": "CLOSING",
                                "history": [{**t, "role": t["role"].upper()} for t in PRICE_TALK]})
    assert upper == lower


async def test_long_histories_are_accepted(executor: ToolExecutor) -> None:
    history = [{"role": "seller" if i % 2 else "customer", "content": f"turn {i}"} for i in range(200)]
    out = await ok(executor, {"message": "Let's sign.", "history": history})
    assert out["stage"] == "closing"


async def test_npc_may_not_call_it(executor: ToolExecutor) -> None:
    result = await classify(executor, {"message": "hi"}, role="npc")
    assert result.error is not None
    assert result.error.code == "TOOL_FORBIDDEN"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"message": "hi", "speaker": "buyer"}, "speaker"),
        ({"message": "x" * 5001}, "message"),
        ({"message": 42}, "message"),
        ({"message": "hi", "current_stage": "negotiation"}, "current_stage"),
        ({"message": "hi", "history": "earlier we talked"}, "history"),
        ({"message": "hi", "history": [{"role": "bot", "content": "x"}]}, "history.0.role"),
        ({"message": "hi", "history": [{"role": "seller"}]}, "history.0.content"),
        ({"message": "hi", "history": [{"role": "seller", "content": "x", "time": 1}]}, "history.0.time"),
        ({"message": "hi", "history": [{"role": "seller", "content": "x"}] * 201}, "history"),
        ({"message": "hi", "mood": "happy"}, "mood"),
    ],
)
async def test_bad_input_names_the_field(executor: ToolExecutor, payload: dict[str, Any], field: str) -> None:
    result = await classify(executor, payload)
    assert result.error is not None
    assert result.error.code == "TOOL_INPUT_INVALID"
    assert field in [e["field"] for e in result.error.details["errors"]]


# --- the model file ------------------------------------------------------------------------------------------------


async def test_a_call_without_a_model_names_the_command(tmp_path: Path) -> None:
    # The model loads on first use: building the tool succeeds, the call fails with the command that builds it.
    backends = ToolBackends(settings=load_settings(audit_enabled=False, stage_model_path=tmp_path / "missing.joblib"))
    executor = sales_executor(backends, stage.build)
    try:
        result = await classify(executor, {"message": "How much is it?"})
    finally:
        await executor.aclose()
    assert not result.ok
    assert result.error is not None
    assert result.error.code == "TOOL_EXECUTION_FAILED"
    assert "the stage model is not available" in result.error.message
    assert "salesboost train stage-classifier" in result.error.message


def test_a_corrupt_or_foreign_model_file_names_the_command(tmp_path: Path) -> None:
    broken = tmp_path / "broken.joblib"
    broken.write_bytes(b"not a model")
    with pytest.raises(StageModelError, match="salesboost train stage-classifier"):
        load(broken)
    import joblib

    joblib.dump({"format": 0, "sklearn": "0.1", "model": None}, tmp_path / "old.joblib")
    with pytest.raises(StageModelError, match="another version"):
        load(tmp_path / "old.joblib")


def test_a_model_of_the_previous_format_is_refused_with_the_command(model_file: Path, tmp_path: Path) -> None:
    import joblib
    import sklearn

    old = tmp_path / "format2.joblib"
    joblib.dump({"format": 2, "sklearn": sklearn.__version__, "model": load(model_file)}, old)
    with pytest.raises(StageModelError, match=r"format 2.*rebuild it with `salesboost train stage-classifier`"):
        load(old)


# --- the data -------------------------------------------------------------------------------------------------------


def test_shipped_examples_cover_every_label_both_speakers_and_context() -> None:
    examples = load_examples(EXAMPLES)
    assert len(examples) >= 400
    assert {e.stage for e in examples} == set(STAGES)
    assert {e.intent for e in examples} == set(INTENTS)
    speakers = [e.sample.speaker for e in examples]
    assert min(speakers.count("seller"), speakers.count("customer")) >= 100
    assert sum(bool(e.sample.history) for e in examples) >= 700
    assert sum(e.sample.current_stage is not None for e in examples) >= 100
    # Short replies recur on purpose, each after turns of other stages; with its last turn each line is its own.
    in_context = {(e.sample.message.lower(), e.sample.history[-1].content if e.sample.history else "")
                  for e in examples}
    assert len(in_context) >= 0.97 * len(examples)
    assert len({e.sample.message.lower() for e in examples}) >= 0.6 * len(examples)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"message": "hi", "speaker": "customer", "stage": "haggling", "intent": "other"}, "stage must be one of"),
        ({"message": "hi", "speaker": "customer", "stage": "opening", "intent": "chat"}, "intent must be one of"),
        ({"message": 3, "speaker": "customer", "stage": "opening", "intent": "other"}, "message must be a string"),
        ({"message": "hi", "speaker": "customer", "stage": "opening", "intent": "other",
          "history": [{"role": "x", "content": "y"}]}, "history turns"),
        ({"message": "hi", "speaker": "customer", "stage": "opening", "intent": "other", "current_stage": "z"},
         "current_stage"),
    ],
)
def test_bad_training_lines_are_reported_with_their_number(tmp_path: Path, line: dict[str, Any], message: str) -> None:
    path = tmp_path / "examples.jsonl"
    path.write_text('{"message": "hello", "speaker": "seller", "stage": "opening", "intent": "greeting"}\n'
                    + json.dumps(line) + "\n", encoding="utf-8")
    with pytest.raises(StageModelError, match=f"examples.jsonl:2: {message}"):
        load_examples(path)


def test_too_few_examples_of_a_label_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "examples.jsonl"
    path.write_text('{"id": "a", "message": "hello", "speaker": "seller", "stage": "opening", "intent": "greeting"}\n'
                    '{"id": "a", "message": "hi", "speaker": "seller", "stage": "opening", "intent": "greeting"}\n',
                    encoding="utf-8")
    with pytest.raises(StageModelError, match="duplicate id a"):
        load_examples(path)
    path.write_text('{"message": "hello", "speaker": "seller", "stage": "opening", "intent": "greeting"}\n',
                    encoding="utf-8")
    with pytest.raises(StageModelError, match="too few: closing"):
        load_examples(path)


def test_lexicon_matches_whole_words_and_stems() -> None:
    lexicon = Lexicon({"commit": ["sign*", "go ahead", "let's do it"], "price": ["price", "per seat"]})
    assert lexicon.cues("We SIGNED it yesterday") == ["commit"]
    assert lexicon.cues("Our designers love it") == []
    assert lexicon.cues("Let’s do it, go   ahead") == ["commit"]
    assert lexicon.cues("The prices per seat") == ["price"]  # "prices" is not "price"; "per seat" is
    assert lexicon.cues("priceless") == []
    assert lexicon.cues("") == []


def test_shipped_lexicon_loads_and_a_bad_one_is_refused(tmp_path: Path) -> None:
    assert "price" in load_lexicon(EXAMPLES.parent / "lexicon.yaml").groups
    bad = tmp_path / "lexicon.yaml"
    bad.write_text("groups: {price: []}\n", encoding="utf-8")
    with pytest.raises(LexiconError, match="non-empty list"):
        load_lexicon(bad)
    bad.write_text("groups: {price: ['...']}\n", encoding="utf-8")
    with pytest.raises(LexiconError, match="has no words"):
        load_lexicon(bad)
