"""YAML parsing for the data and settings files, through libyaml when PyYAML was built with it.

PyYAML's pure-Python safe loader takes about ten times as long as libyaml's: the runtime parses a dozen files
when it builds the eight tools, and that was about 0.1 s of a fresh process's first answer (issue 15). Both
loaders are safe (plain data only) and raise `yaml.YAMLError` for a malformed document.
"""

from __future__ import annotations

from typing import Any

import yaml

_SAFE_LOADER: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    """The document in `text` as plain data (dicts, lists, strings, numbers, dates), like `yaml.safe_load`."""
    return yaml.load(text, Loader=_SAFE_LOADER)
