"""Which API key owns which session, so that a key sees only the events and activity of its own sessions.

The first key to use a session id (by making a call in it, or by subscribing to it) owns it. A call or a
subscription by another non-admin key to an owned session is refused, so nobody can read someone else's
events by guessing or reusing a session id; admin keys may watch and call into every session.

Ownership lives in this process (like the event bus it protects) and is bounded: past `max_sessions` the
session unused the longest is forgotten.
"""

from __future__ import annotations

from collections import OrderedDict

from salesboost.api.auth import ApiKey


class SessionOwners:
    def __init__(self, max_sessions: int = 100_000) -> None:
        self.max_sessions = max_sessions
        self._owner: OrderedDict[str, str] = OrderedDict()
        self._by_key: dict[str, set[str]] = {}

    def claim(self, session_id: str, key: ApiKey) -> bool:
        """Whether this key may use the session; the first key to use it becomes its owner."""
        owner = self._owner.get(session_id)
        if owner is None:
            self._owner[session_id] = key.id
            self._by_key.setdefault(key.id, set()).add(session_id)
            if len(self._owner) > self.max_sessions:
                self._forget_oldest()
            return True
        self._owner.move_to_end(session_id)
        return owner == key.id or key.is_admin

    def _forget_oldest(self) -> None:
        session_id, key_id = self._owner.popitem(last=False)
        sessions = self._by_key.get(key_id)
        if sessions is not None:
            sessions.discard(session_id)
            if not sessions:
                del self._by_key[key_id]

    def sessions_of(self, key: ApiKey) -> frozenset[str]:
        return frozenset(self._by_key.get(key.id, ()))
