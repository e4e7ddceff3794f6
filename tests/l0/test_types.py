"""L0Event as a value: token events from the fast path behave like any other event."""

from __future__ import annotations

import pickle
from collections.abc import AsyncIterator

import pytest

from cascadeflow.l0 import L0Event, l0
from cascadeflow.l0._types import token_event


def test_token_event_equals_the_constructed_event_and_hashes_alike() -> None:
    fast = token_event("Hi")
    built = L0Event("token", "Hi")
    assert fast == built
    assert hash(fast) == hash(built)
    assert (fast.type, fast.value, fast.role, fast.data, fast.progress, fast.error,
            fast.usage, fast.timestamp) == ("token", "Hi", None, None, None, None, None, None)
    assert isinstance(fast, L0Event)


def test_events_with_different_fields_are_not_equal() -> None:
    assert L0Event("token", "a") != L0Event("token", "b")
    assert L0Event("token", "a") != L0Event("message", "a")
    assert L0Event("token", "a") != ("token", "a")


def test_replace_returns_a_changed_copy_and_leaves_the_event_alone() -> None:
    event = token_event("Hi")
    stamped = event._replace(timestamp=1.5, value="Hello")
    assert stamped == L0Event("token", "Hello", timestamp=1.5)
    assert event.value == "Hi"
    assert event.timestamp is None


def test_repr_shows_the_fields_that_are_set() -> None:
    assert repr(token_event("x")) == "L0Event(type='token', value='x')"
    assert repr(L0Event("complete", usage={"total_tokens": 3})) == (
        "L0Event(type='complete', usage={'total_tokens': 3})")


def test_a_token_event_type_cannot_be_reassigned() -> None:
    with pytest.raises(AttributeError):
        token_event("x").type = "message"


def test_events_survive_pickling() -> None:
    for event in (token_event("x"), L0Event("error", "boom", data={"action": "retry"})):
        assert pickle.loads(pickle.dumps(event)) == event


async def test_streamed_token_events_are_l0_events_with_their_text() -> None:
    async def words() -> AsyncIterator[str]:
        for word in ["Hello", "", " world"]:
            yield word

    events = [event async for event in (await l0(words)).stream]
    assert events[:2] == [L0Event("token", "Hello"), L0Event("token", " world")]
    assert events[-1].type == "complete"
    assert all(isinstance(event, L0Event) for event in events)
