"""A trained model's file (the stage classifier's, compliance_check's): written atomically with the versions it
needs, read back with an error that names the command rebuilding it.

The file is a pickle: load only files this project built (they live under var/, never user input).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TypeVar

import joblib
import sklearn

M = TypeVar("M")


def save(model: object, path: Path, fmt: int) -> None:
    """Write atomically, with the model's format and the scikit-learn version it needs to load."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": fmt, "sklearn": sklearn.__version__, "model": model}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        joblib.dump(payload, tmp, compress=3)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load(path: Path, kind: type[M], fmt: int, error: type[Exception], what: str, command: str) -> M:
    """The `kind` saved at `path` in format `fmt`; a missing, broken or stale file raises `error`, saying what
    (`what`: "stage classifier model") and the command that rebuilds it."""
    if not path.is_file():
        raise error(f"{what} not found at {path}; build it with `{command}`")
    try:
        payload = joblib.load(path)
    except Exception as exc:  # a truncated or foreign file: any unpickling error means "rebuild"
        raise error(f"cannot load {path} ({exc}); rebuild it with `{command}`") from exc
    if not isinstance(payload, dict):
        payload = {}
    built = (payload.get("format"), payload.get("sklearn"))
    if built != (fmt, sklearn.__version__):
        raise error(
            f"{path} was built by another version (format {built[0]}, scikit-learn {built[1]}; this is format "
            f"{fmt}, scikit-learn {sklearn.__version__}); rebuild it with `{command}`"
        )
    model = payload["model"]
    if not isinstance(model, kind):
        raise error(f"{path} does not hold a {what}; rebuild it with `{command}`")
    return model
