"""API keys: who is calling, and so which role a call runs as. The role never comes from the request body.

Keys come from `SALESBOOST_API_KEYS` (comma-separated `key:role` pairs) and/or the file named by
`SALESBOOST_API_KEYS_FILE` (YAML `keys: [{key, role, name}]` for `.yaml`/`.yml`, else one `key:role` a line).
Only the SHA-256 digest of each key is kept; a presented key is hashed and compared with every known digest
by `hmac.compare_digest`, without stopping at the first match, so the time taken says nothing about which
keys exist. Each key is named by an id (the first 12 hex digits of its digest) in logs and session ownership.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from salesboost.api.errors import ApiError
from salesboost.config import Settings
from salesboost.yamlfiles import load_yaml

ADMIN_ROLE = "admin"
MIN_KEY_LENGTH = 16
AUTH_REQUIRED = "AUTH_REQUIRED"
WWW_AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="salesboost"'}


class KeyConfigError(ValueError):
    """A key source that cannot be used; the message names the variable or file."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A known key: its digest (never the key itself), the role it grants, and how to name it."""

    id: str
    role: str
    name: str
    digest: bytes

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN_ROLE


def _digest(key: str) -> bytes:
    # surrogatepass: a key read from JSON may hold a lone surrogate; it must not match, nor crash.
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


def _make_key(key: str, role: str, name: str, source: str) -> ApiKey:
    key, role = key.strip(), role.strip()
    if len(key) < MIN_KEY_LENGTH or any(c.isspace() for c in key):
        raise KeyConfigError(f"{source}: a key needs at least {MIN_KEY_LENGTH} characters and no spaces")
    if not role:
        raise KeyConfigError(f"{source}: a key has no role (expected key:role)")
    digest = _digest(key)
    key_id = digest.hex()[:12]
    return ApiKey(id=key_id, role=role, name=name or f"{role}-{key_id[:6]}", digest=digest)


def parse_pairs(text: str, source: str) -> list[ApiKey]:
    """`key:role` pairs separated by commas or new lines; `#` starts a comment line."""
    keys = []
    for line in text.splitlines():
        if line.strip().startswith("#"):
            continue
        for pair in line.split(","):
            if not pair.strip():
                continue
            key, sep, role = pair.rpartition(":")
            if not sep:
                raise KeyConfigError(f"{source}: expected key:role, got an entry without ':'")
            keys.append(_make_key(key, role, "", source))
    return keys


def key_file(settings: Settings) -> Path | None:
    """`SALESBOOST_API_KEYS_FILE`, None when unset or set empty (which pydantic reads as the path ".")."""
    path = settings.api_keys_file
    return None if path is None or str(path) in ("", ".") else path


def load_key_file(path: Path) -> list[ApiKey]:
    source = f"SALESBOOST_API_KEYS_FILE={path}"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KeyConfigError(f"{source}: cannot read it ({exc.strerror})") from None
    if path.suffix.lower() not in (".yaml", ".yml"):
        return parse_pairs(text, source)
    data: Any = load_yaml(text) or {}
    entries = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise KeyConfigError(f"{source}: expected a mapping with a 'keys' list of {{key, role, name}}")
    keys = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str) or not entry.get("role"):
            raise KeyConfigError(f"{source}: every entry needs a 'key' string and a 'role'")
        keys.append(_make_key(entry["key"], str(entry["role"]), str(entry.get("name") or ""), source))
    return keys


class KeyStore:
    """The known keys; answers who a presented key belongs to, in constant time over all keys."""

    def __init__(self, keys: Iterable[ApiKey]) -> None:
        by_digest: dict[bytes, ApiKey] = {}
        for key in keys:
            known = by_digest.get(key.digest)
            if known is not None and known.role != key.role:
                raise KeyConfigError(f"key {key.id} is configured twice with different roles")
            by_digest[key.digest] = key
        self.keys: tuple[ApiKey, ...] = tuple(by_digest.values())

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyStore:
        keys = parse_pairs(settings.api_keys, "SALESBOOST_API_KEYS")
        path = key_file(settings)
        if path is not None:
            keys += load_key_file(path)
        return cls(keys)

    def check_roles(self, roles: frozenset[str]) -> None:
        """Refuse to start with a key whose role the permissions file does not know."""
        for key in self.keys:
            if key.role not in roles:
                raise KeyConfigError(
                    f"key {key.name} ({key.id}) has role {key.role!r}; "
                    f"configured roles: {', '.join(sorted(roles))}"
                )

    def authenticate(self, presented: str | None) -> ApiKey | None:
        if not presented:
            return None
        digest = _digest(presented)
        found = None
        for key in self.keys:
            if hmac.compare_digest(digest, key.digest):
                found = key
        return found


def token_matches(presented: str | None, expected: str) -> bool:
    """Constant-time comparison of a bearer token with a configured secret."""
    return presented is not None and hmac.compare_digest(_digest(presented), _digest(expected))


def unauthorized(message: str = "send an API key as 'Authorization: Bearer <key>' or X-API-Key") -> ApiError:
    return ApiError(401, AUTH_REQUIRED, message, headers=WWW_AUTHENTICATE)


_bearer = HTTPBearer(
    auto_error=False, scheme_name="bearer", description="An API key as `Authorization: Bearer <key>`."
)
_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, scheme_name="apiKey", description="An API key as `X-API-Key: <key>`."
)


# How a route that authenticates by itself (see `authenticate`) declares its security in OpenAPI.
SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]


def bearer_token(request: HTTPConnection) -> str | None:
    """The token of an `Authorization: Bearer` header, if there is one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def authenticate(request: HTTPConnection) -> ApiKey:
    """The caller's key (a bearer token, else `X-API-Key`), or 401 with `WWW-Authenticate`.

    The hot routes call this directly: FastAPI's dependency resolution of the two security schemes costs
    more than the rest of a cheap call.
    """
    store: KeyStore = request.app.state.service.keys
    key = store.authenticate(bearer_token(request) or request.headers.get("x-api-key"))
    if key is None:
        raise unauthorized()
    return key


async def require_key(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> ApiKey:
    """`authenticate` as a dependency; the two schemes are declared for OpenAPI (and `/docs`' Authorize)."""
    return authenticate(request)


Caller = Annotated[ApiKey, Depends(require_key)]
