"""The async LiteLLM paths on a shared store read a user's stored tier off the event loop:
the callback's hooks, the guarded ``acompletion`` and ``l0_completion``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cascadeflow import BudgetConfig, BudgetExceededError, CostTracker
from cascadeflow.integrations.litellm import acompletion, l0_completion, register
from cascadeflow.storage import RedisStore
from tests._loop_reads import loop_reads_of

pytestmark = pytest.mark.redis


@pytest.fixture
def store(redis_url: str) -> Iterator[RedisStore]:
    made = RedisStore(redis_url)
    # Another worker stored the tier budget and the users' tiers: no tracker here has seen them.
    admin = CostTracker(store=made)
    admin.set_tier_budget("free", BudgetConfig(daily=0.000_05))
    for user in ("ana", "bo", "cy"):
        admin.set_user_tier(user, "free")
    yield made
    made.close()


async def test_the_async_paths_read_the_users_tier_off_the_loop(
    store: RedisStore, messages: list[dict[str, str]],
) -> None:
    tracker = CostTracker(store=store, enforcement_mode="block")
    callback = register(tracker)
    with loop_reads_of(store) as blocked:
        import litellm

        await litellm.acompletion(model="gpt-4o-mini", messages=messages, user="ana",
                                  max_tokens=5, mock_response="Hi")
        await acompletion(model="gpt-4o-mini", messages=messages, user="bo", max_tokens=5,
                          tracker=tracker, mock_response="Hi")
        result = await l0_completion(model="gpt-4o-mini", messages=messages, user="cy",
                                     tracker=tracker, max_tokens=5, mock_response="Hi",
                                     budget=False)
        assert await result.text() == "Hi"
        assert await callback.aflush()
        # The stored tier applies: its budget refuses a call far larger than what is left.
        with pytest.raises(BudgetExceededError):
            await acompletion(model="gpt-4o-mini", messages=messages, user="bo",
                              max_tokens=4_000, tracker=tracker, mock_response="Hi")
    assert blocked == []
    billed = {entry.user_id: entry.user_tier for entry in store.entries()}
    assert billed == {"ana": "free", "bo": "free", "cy": "free"}
