"""Reading a labelled JSONL set: one object a line, each checked against the tool's item model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

Item = TypeVar("Item", bound=BaseModel)


class SetError(ValueError):
    """A set that cannot be measured; the message names the file and, when it is one, the line."""


def read_set(path: Path, model: type[Item]) -> list[tuple[int, Item]]:
    """The set's items with their line numbers (blank lines skipped)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SetError(f"{path}: cannot read the set: {exc}") from None
    items: list[tuple[int, Item]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SetError(f"{path}:{number}: not valid JSON: {exc.msg}") from None
        if not isinstance(raw, dict):
            raise SetError(f"{path}:{number}: each line must be a JSON object")
        try:
            items.append((number, model.model_validate(raw)))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "line"
            raise SetError(f"{path}:{number}: {where}: {first['msg']}") from None
    if not items:
        raise SetError(f"{path}: the set is empty")
    return items


def shown(path: Path) -> str:
    """The path as a reader finds it: relative to the working folder when it is under it."""
    try:
        return path.resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)
