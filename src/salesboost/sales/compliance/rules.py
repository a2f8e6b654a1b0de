"""The compliance rule pack: a YAML file of rules, validated and compiled once.

A rule pack holds `terms` (named word lists that patterns reference as `{name}`), the `negation` cues that
turn a claim into a disclaimer ("there is no guarantee"), and the `rules`. Each rule has a detector `kind`:

- `regex`: any of its `patterns` (word-boundary regexes). A `negatable` rule skips a match negated in its
  clause (a `negation.before` cue in the words just before it, or inside it up to its `claim` group when
  `negation_in_match`, or a `negation.after` phrase right after it); `question_exempt` skips a question
  ("is the ROI guaranteed?"), `exempt_before` a match whose clause starts with that regex (a competitor's
  offer is not ours);
- `card`, `ssn`, `phone`, `email`: the PII detectors of `compliance.pii`;
- `discount`: patterns capturing a percentage (`pct`) compared with the configured maximum discount;
- `missing`: fires when none of its patterns occurs (e.g. a marketing SMS without opt-out wording);
- `learned`: the trained sentence classifier of `compliance.model` for its category (no patterns): a
  sentence it scores at or above the category's threshold is a violation (see `docs/compliance.md`).

PII detectors take `not_after`: a regex that, ending right before a detected number, makes it an
identifier ("order #", "invoice number is") rather than personal data.

Tenants load their own pack by pointing `SALESBOOST_COMPLIANCE_RULES` at another file.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from salesboost.yamlfiles import load_yaml

Severity = Literal["high", "medium"]
Kind = Literal["regex", "card", "ssn", "phone", "email", "discount", "missing", "learned"]
RewriteMode = Literal["replace", "text", "mask", "drop_sentence", "append", "cap_discount"]
Channel = Literal["chat", "email", "sms"]


class RuleError(ValueError):
    """A rule pack that cannot be loaded (bad YAML, unknown term, invalid regex)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rewrite(_Strict):
    """How `safe_rewrite` treats a match: substitutions inside it, a fixed text, a mask, and so on."""

    mode: RewriteMode = "text"
    text: str = ""
    subs: tuple[tuple[str, str], ...] = ()


class When(_Strict):
    """Conditions under which a rule applies at all."""

    channels: tuple[Channel, ...] | None = None
    stages: tuple[str, ...] | None = None
    marketing: bool | None = None


class RuleSpec(_Strict):
    id: str = Field(min_length=1)
    category: str = Field(min_length=1)
    severity: Severity
    kind: Kind = "regex"
    patterns: tuple[str, ...] = ()
    case_sensitive: bool = False
    negatable: bool = False
    negation_in_match: bool = False
    question_exempt: bool = False
    exempt_before: str | None = None
    not_after: str | None = None
    region: str = "US"
    message: str
    suggestion: str
    rewrite: Rewrite = Rewrite()
    when: When = When()


class NegationSpec(_Strict):
    """Cues before a match (within `window_words` of its clause) or right after it that negate it."""

    before: str = r"\b(?:not|never|no|cannot|without)\b|n['’]t\b"
    window_words: int = Field(6, ge=1, le=30)
    after: str = r"\W*(?:is|are|was|were)\s+(?:not|never)\b"
    after_window_chars: int = Field(60, ge=1, le=500)


class RulePackSpec(_Strict):
    version: int = 1
    name: str = "default"
    terms: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    negation: NegationSpec = NegationSpec()
    rules: tuple[RuleSpec, ...]

    @field_validator("rules")
    @classmethod
    def _unique_ids(cls, rules: tuple[RuleSpec, ...]) -> tuple[RuleSpec, ...]:
        ids = [r.id for r in rules]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate rule ids: {duplicates}")
        return rules


class CompiledRule:
    """A rule with its patterns compiled (terms expanded)."""

    __slots__ = ("exempt_before", "not_after", "patterns", "spec", "subs")

    def __init__(self, spec: RuleSpec, terms: dict[str, str]) -> None:
        self.spec = spec
        flags = 0 if spec.case_sensitive else re.IGNORECASE
        self.patterns = tuple(_compile(_expand(p, terms, spec.id), flags, spec.id) for p in spec.patterns)
        self.subs = tuple(
            (_compile(_expand(p, terms, spec.id), re.IGNORECASE, spec.id), repl) for p, repl in spec.rewrite.subs
        )
        self.exempt_before = (
            _compile(_expand(spec.exempt_before, terms, spec.id), flags, spec.id) if spec.exempt_before else None
        )
        # Anchored at the end of the text before the number: only what directly precedes it counts.
        self.not_after = (
            _compile(f"(?:{_expand(spec.not_after, terms, spec.id)})\\W*$", re.IGNORECASE, spec.id)
            if spec.not_after
            else None
        )
        if spec.kind in ("regex", "discount", "missing") and not self.patterns:
            raise RuleError(f"rule {spec.id}: a {spec.kind} rule needs patterns")
        if spec.kind == "discount" and any("pct" not in p.groupindex for p in self.patterns):
            raise RuleError(f"rule {spec.id}: every discount pattern needs a (?P<pct>...) group")

    def applies(self, channel: str, stage: str | None, marketing: bool) -> bool:
        when = self.spec.when
        if when.channels is not None and channel not in when.channels:
            return False
        if when.stages is not None and stage not in when.stages:
            return False
        return when.marketing is None or when.marketing == marketing


class RulePack:
    """A validated, compiled rule pack."""

    def __init__(self, spec: RulePackSpec) -> None:
        self.spec = spec
        terms = {name: _alternation(words) for name, words in spec.terms.items()}
        self.rules = tuple(CompiledRule(rule, terms) for rule in spec.rules)
        negation = spec.negation
        self.negation_before = _compile(negation.before, re.IGNORECASE, "negation.before")
        self.negation_after = _compile(negation.after, re.IGNORECASE, "negation.after")
        self.window_words = negation.window_words
        self.after_window_chars = negation.after_window_chars

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(rule.spec.category for rule in self.rules))

    @property
    def learned(self) -> tuple[CompiledRule, ...]:
        """The rules the trained classifier decides; a pack without them never loads the model."""
        return tuple(rule for rule in self.rules if rule.spec.kind == "learned")


def _alternation(words: tuple[str, ...]) -> str:
    """Longest first, so that "return on investment" wins over "return"."""
    return "(?:" + "|".join(sorted(words, key=len, reverse=True)) + ")"


_TERM = re.compile(r"\{([a-z_]+)\}")


def _expand(pattern: str, terms: dict[str, str], rule_id: str) -> str:
    def term(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in terms:
            raise RuleError(f"rule {rule_id}: unknown term {{{name}}}")
        return terms[name]

    return _TERM.sub(term, pattern)


def _compile(pattern: str, flags: int, where: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise RuleError(f"{where}: invalid regex {pattern!r}: {exc}") from None


def parse_rule_pack(text: str) -> RulePack:
    """A rule pack from YAML text."""
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as exc:
        raise RuleError(f"rule pack is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise RuleError("rule pack must be a mapping with a `rules` list")
    try:
        spec = RulePackSpec.model_validate(raw)
    except ValueError as exc:
        raise RuleError(f"invalid rule pack: {exc}") from None
    return RulePack(spec)


@lru_cache(maxsize=16)
def load_rule_pack(path: Path) -> RulePack:
    """The rule pack at `path`, read and compiled once per process."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleError(f"cannot read rule pack {path}: {exc}") from None
    return parse_rule_pack(text)
