"""Session ownership: the first key to use a session owns it; the map is bounded."""

from __future__ import annotations

from salesboost.api.auth import parse_pairs
from salesboost.api.sessions import SessionOwners

COACH, NPC, ADMIN = parse_pairs(
    "coach-key-aaaaaaaaaaaaaaaa:coach,npc-key-bbbbbbbbbbbbbbbbbb:npc,admin-key-cccccccccccccccc:admin", "test"
)


def test_the_first_key_owns_the_session_and_admin_may_use_it_too() -> None:
    owners = SessionOwners()
    assert owners.claim("s1", COACH)
    assert owners.claim("s1", COACH)
    assert not owners.claim("s1", NPC)
    assert owners.claim("s1", ADMIN)
    assert owners.sessions_of(COACH) == {"s1"}
    assert owners.sessions_of(NPC) == frozenset()
    assert owners.sessions_of(ADMIN) == frozenset()


def test_past_the_bound_the_session_unused_longest_is_forgotten() -> None:
    owners = SessionOwners(max_sessions=2)
    owners.claim("old", COACH)
    owners.claim("used", COACH)
    owners.claim("old", COACH)  # "old" is used again: "used" is now the one unused longest
    owners.claim("new", NPC)
    assert owners.sessions_of(COACH) == {"old"}
    assert owners.sessions_of(NPC) == {"new"}
    assert owners.claim("used", NPC)  # forgotten, so free to claim


def test_forgetting_a_keys_last_session_forgets_the_key() -> None:
    owners = SessionOwners(max_sessions=1)
    owners.claim("a", COACH)
    owners.claim("b", NPC)
    assert owners.sessions_of(COACH) == frozenset()
    assert not owners.claim("b", COACH)
