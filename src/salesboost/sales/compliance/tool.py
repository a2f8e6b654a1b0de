"""compliance_check: screens a sales message against the rule pack before it is sent.

`ComplianceEngine` is the reusable part (the SMS tool calls it before sending); `ComplianceCheckTool` is the
tool around it. The rules live in a YAML rule pack (`SALESBOOST_COMPLIANCE_RULES`), never in this code.
The pack's `learned` rules hand their categories to the trained sentence classifier (`compliance.model`):
every pattern hit stands (the patterns handle their own negations), and the model adds a violation for each
sentence it scores at or above the category's threshold that no pattern of that category caught.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field, StrictBool

from salesboost.config import Settings
from salesboost.pii import find_emails, find_phones
from salesboost.sales.compliance.pii import find_cards, find_ssns, mask_pii
from salesboost.sales.compliance.rules import CompiledRule, RulePack, load_rule_pack
from salesboost.tools.base import Heavy, Tool, ToolBackends, ToolContext, ToolInput, ToolOutput, ToolPolicy

if TYPE_CHECKING:
    from salesboost.sales.compliance.model import ComplianceModel

RiskLevel = Literal["OK", "WARN", "BLOCK"]
Stage = Literal["opening", "discovery", "presentation", "objection_handling", "closing", "follow_up"]


class Violation(BaseModel):
    rule_id: str
    category: str
    severity: Literal["high", "medium"]
    matched: str = Field(description="The offending text (empty for something missing, e.g. opt-out wording).")
    start: int = Field(description="Offset of the match in the text (characters).")
    end: int
    message: str
    suggestion: str


class ComplianceInput(ToolInput):
    text: str = Field(min_length=1, max_length=10_000, description="The message to check, at most 10,000 characters.")
    channel: Literal["chat", "email", "sms"] = Field("chat", description="Where the message will be sent.")
    stage: Stage | None = Field(None, description="The sales stage the conversation is in, if known.")
    marketing: StrictBool = Field(
        False, description="true for a marketing message (an SMS then needs opt-out wording); a JSON boolean."
    )


class ComplianceOutput(ToolOutput):
    compliant: bool
    risk_level: RiskLevel
    violations: list[Violation]
    safe_rewrite: str = Field(description="The text with offending phrases rewritten or masked; empty when OK.")


@dataclass(frozen=True, slots=True)
class _Hit:
    rule: CompiledRule
    start: int
    end: int
    pct_span: tuple[int, int] | None = None


_CLAUSE_BREAK = re.compile(r"[.!?;:\n—–(),]|\bbut\b|\bhowever\b", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?\n]")
_QUESTION_OPENER = re.compile(
    r"(?:\W*(?:so|and|but|ok|okay|well)\W+)?(?:is|are|was|were|can|could|will|would|do|does|did|how|what|why|"
    r"when|where|which|who|should|shall|has|have|may)\b",
    re.IGNORECASE,
)
_NUMBER_WORDS = {
    "half": 50, "ten": 10, "fifteen": 15, "twenty": 20, "twenty-five": 25, "twenty five": 25, "thirty": 30,
    "thirty-five": 35, "thirty five": 35, "forty": 40, "forty-five": 45, "forty five": 45, "fifty": 50,
    "sixty": 60, "seventy": 70, "seventy-five": 75, "seventy five": 75, "eighty": 80, "ninety": 90,
}


class ComplianceEngine:
    """Checks a text against a rule pack; stateless and thread-safe once built."""

    def __init__(self, pack: RulePack, *, max_discount: float, model_path: Path | None = None) -> None:
        self.pack = pack
        self.max_discount_pct = round(max_discount * 100, 6)
        self.model_path = model_path
        # Loaded on first use (or when the service warms it): scikit-learn is not imported by a process that
        # never checks a text against a learned rule.
        self.model = Heavy("the compliance model", self._load_model)

    @classmethod
    def from_settings(cls, settings: Settings) -> ComplianceEngine:
        return cls(
            load_rule_pack(settings.compliance_rules),
            max_discount=settings.max_discount,
            model_path=settings.compliance_model_path,
        )

    def _load_model(self) -> ComplianceModel:
        """Once per process (`load_cached`); a missing file fails the call with the command that builds it."""
        from salesboost.sales.compliance.model import ComplianceModelError, load_cached

        if self.model_path is None:
            raise ComplianceModelError("the rule pack has learned rules but no compliance model path is set")
        model = load_cached(self.model_path)
        unknown = sorted({r.spec.category for r in self.pack.learned} - set(model.flag))
        if unknown:
            raise ComplianceModelError(f"the compliance model has no category {', '.join(unknown)}")
        return model

    def check(
        self, text: str, channel: str = "chat", stage: str | None = None, marketing: bool = False
    ) -> ComplianceOutput:
        hits = self._hits(text, channel, stage, marketing)
        violations = [
            Violation(
                rule_id=h.rule.spec.id,
                category=h.rule.spec.category,
                severity=h.rule.spec.severity,
                matched=text[h.start : h.end],
                start=h.start,
                end=h.end,
                message=h.rule.spec.message,
                suggestion=h.rule.spec.suggestion,
            )
            for h in hits
        ]
        severities = {v.severity for v in violations}
        risk: RiskLevel = "BLOCK" if "high" in severities else "WARN" if severities else "OK"
        return ComplianceOutput(
            compliant=not violations,
            risk_level=risk,
            violations=violations,
            safe_rewrite=self._rewrite(text, hits) if hits else "",
        )

    # --- detection ------------------------------------------------------------------------------------

    def _hits(self, text: str, channel: str, stage: str | None, marketing: bool) -> list[_Hit]:
        """Every rule's matches; within a category, overlapping matches count once (first rule wins)."""
        kept: list[_Hit] = []
        rules = [rule for rule in self.pack.rules if rule.applies(channel, stage, marketing)]
        for rule in rules:
            if rule.spec.kind != "learned":
                for hit in self._detect(rule, text):
                    _keep(kept, hit)
        learned = [rule for rule in rules if rule.spec.kind == "learned"]
        if learned:
            self._learned(text, learned, kept)
        return sorted(kept, key=lambda h: (h.start, h.end))

    def _learned(self, text: str, learned: list[CompiledRule], hits: list[_Hit]) -> None:
        """The sentences the model scores at or above a learned category's threshold, where no pattern hit."""
        model = self.model.get()
        from salesboost.sales.compliance.model import MIN_WORDS, sentences, word_count  # loaded with the model

        # A message of one or two words ("Hello!", "Message 1") is too little evidence for the model.
        spans = [(s, e) for s, e in sentences(text) if word_count(text, s, e) >= MIN_WORDS]
        for (start, end), score in zip(spans, model.score([text[s:e] for s, e in spans]), strict=True):
            for rule in learned:
                if score[rule.spec.category] >= model.flag[rule.spec.category]:
                    _keep(hits, _Hit(rule, start, end))

    def _detect(self, rule: CompiledRule, text: str) -> Iterator[_Hit]:
        kind = rule.spec.kind
        if kind in ("regex", "discount"):
            for pattern in rule.patterns:
                for m in pattern.finditer(text):
                    if m.end() > m.start() and not self._excused(text, m, rule):
                        pct_span = m.span("pct") if kind == "discount" else None
                        if pct_span is None or self._over_limit(m.group("pct")):
                            yield _Hit(rule, m.start(), m.end(), pct_span=pct_span)
        elif kind == "missing":
            if not any(p.search(text) for p in rule.patterns):
                yield _Hit(rule, len(text), len(text))
        else:
            finder = {"card": find_cards, "ssn": find_ssns, "email": find_emails}.get(kind)
            found = finder(text) if finder is not None else find_phones(text, rule.spec.region)
            for start, end in found:
                # An order or invoice number that happens to pass the checks is an identifier, not personal data.
                if rule.not_after is None or not rule.not_after.search(text, max(0, start - 40), start):
                    yield _Hit(rule, start, end)

    def _over_limit(self, raw: str) -> bool:
        pct = _percent(raw)
        return pct is not None and pct > self.max_discount_pct + 1e-9

    def _excused(self, text: str, match: re.Match[str], rule: CompiledRule) -> bool:
        """Whether the match is not a claim: negated, disclaimed, asked, or about someone else."""
        spec = rule.spec
        start, end = match.span()
        breaks = list(_CLAUSE_BREAK.finditer(text, max(0, start - 300), start))
        clause = text[breaks[-1].end() if breaks else max(0, start - 300) : start]
        if rule.exempt_before is not None and rule.exempt_before.search(clause):
            return True
        if spec.question_exempt and _is_question(text, start, end):
            return True
        if not spec.negatable:
            return False
        before = " ".join(clause.split()[-self.pack.window_words :])
        if self.pack.negation_before.search(before):
            return True
        if spec.negation_in_match:
            inside = text[start : match.start("claim")] if "claim" in match.re.groupindex else match.group(0)
            if self.pack.negation_before.search(inside):
                return True
        return bool(self.pack.negation_after.match(text, end, end + self.pack.after_window_chars))

    # --- rewriting ------------------------------------------------------------------------------------

    def _rewrite(self, text: str, hits: list[_Hit]) -> str:
        edits = _non_overlapping([self._edit(text, h) for h in hits])
        out = text
        for start, end, replacement in reversed(edits):
            out = out[:start] + replacement + out[end:]
        return _tidy(out)

    def _edit(self, text: str, hit: _Hit) -> tuple[int, int, str]:
        spec = hit.rule.spec
        matched = text[hit.start : hit.end]
        mode = spec.rewrite.mode
        if mode == "mask":
            return hit.start, hit.end, mask_pii(spec.kind, matched)
        if mode == "append":
            return len(text), len(text), " " + spec.rewrite.text
        if mode == "drop_sentence":
            return (*_sentence(text, hit.start, hit.end), "")
        if mode == "cap_discount" and hit.pct_span is not None:
            cap = f"{self.max_discount_pct:g}"
            if not text[hit.pct_span[1] : hit.end].lstrip().startswith(("%", "percent", "per cent")):
                cap += "%"
            return hit.pct_span[0], hit.pct_span[1], cap
        if mode == "replace":
            rewritten = matched
            for pattern, replacement in hit.rule.subs:
                rewritten = pattern.sub(replacement, rewritten)
            if rewritten != matched:
                return hit.start, hit.end, rewritten
        return hit.start, hit.end, spec.rewrite.text


def _keep(kept: list[_Hit], hit: _Hit) -> None:
    """Add `hit` unless a kept hit of the same category overlaps it."""
    category = hit.rule.spec.category
    if not any(hit.start < k.end and k.start < hit.end for k in kept if k.rule.spec.category == category):
        kept.append(hit)


def _percent(raw: str) -> float | None:
    word = raw.strip().lower()
    if word in _NUMBER_WORDS:
        return float(_NUMBER_WORDS[word])
    try:
        return float(word)
    except ValueError:
        return None


def _is_question(text: str, start: int, end: int) -> bool:
    """A sentence that asks (ends with "?" and opens with an auxiliary or question word)."""
    s, e = _sentence(text, start, end)
    sentence = text[s:e].strip()
    return sentence.endswith("?") and bool(_QUESTION_OPENER.match(sentence))


def _sentence(text: str, start: int, end: int) -> tuple[int, int]:
    """The span of the sentence(s) around [start, end), with the trailing space."""
    before = list(_SENTENCE_END.finditer(text, 0, start))
    s = before[-1].end() if before else 0
    after = _SENTENCE_END.search(text, end)
    e = after.end() if after else len(text)
    while e < len(text) and text[e] in " \t":
        e += 1
    return s, e


def _non_overlapping(edits: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Sorted edits where, of two that overlap, the wider one wins."""
    kept: list[tuple[int, int, str]] = []
    for edit in sorted(edits, key=lambda e: (e[0], -e[1])):
        if kept and edit[0] < kept[-1][1]:
            if edit[1] - edit[0] > kept[-1][1] - kept[-1][0]:
                kept[-1] = edit
            continue
        kept.append(edit)
    return kept


def _tidy(text: str) -> str:
    text = re.sub(r"[ \t]{2,}", " ", text)
    text = re.sub(r"[ \t]+([,.!?;:])", r"\1", text)
    text = re.sub(r"([,;:])(?=[.!?])", "", text)
    text = text.strip(" \t\n,;:")
    return text[:1].upper() + text[1:]


class ComplianceCheckTool(Tool[ComplianceInput, ComplianceOutput]):
    name = "compliance_check"
    description = (
        "Check a sales message for compliance before sending it: guaranteed-outcome promises, prompt "
        "injection, personal data (cards, SSNs, phone numbers, e-mails), false urgency, competitor "
        "disparagement, discounts above the approved maximum and marketing SMS without opt-out wording. "
        "Returns risk_level OK/WARN/BLOCK, each violation with its position and a suggestion, and a "
        "safe_rewrite of the text. Use it on every outgoing message; do not send a BLOCK message."
    )
    Input = ComplianceInput
    Output = ComplianceOutput
    policy = ToolPolicy(read_only=True, idempotent=True, timeout=5.0)
    examples = (
        {"text": "Sign today and you get guaranteed 30% savings!"},
        {"text": "Big spring sale: 20% off all plans this week.", "channel": "sms", "marketing": True},
    )

    def __init__(self, engine: ComplianceEngine) -> None:
        self.engine = engine

    def heavy_parts(self) -> tuple[Heavy[ComplianceModel], ...]:
        return (self.engine.model,) if self.engine.pack.learned else ()

    def run(self, args: ComplianceInput, ctx: ToolContext) -> ComplianceOutput:
        return self.engine.check(args.text, args.channel, args.stage, args.marketing)

    def preview(self, output: ComplianceOutput) -> str:
        if output.compliant:
            return "OK: no compliance issues"
        categories = ", ".join(dict.fromkeys(v.category for v in output.violations))
        return f"{output.risk_level}: {len(output.violations)} issue(s) ({categories})"


def build(backends: ToolBackends) -> ComplianceCheckTool:
    return ComplianceCheckTool(ComplianceEngine.from_settings(backends.settings))
