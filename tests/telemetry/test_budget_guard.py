"""BudgetGuard inside L0 streams: holds capped at what is left, cuts before the limit, one entry
per attempt. Real ledger (memory and SQLite files), real ``l0()``, scripted token streams."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from cascadeflow import BudgetConfig, BudgetExceededError, BudgetGuard, CostTracker, Scope
from cascadeflow._money import to_nanos
from cascadeflow.l0 import AttemptMeter, RetryConfig, l0
from cascadeflow.pricing import default_price_book
from cascadeflow.storage import SQLiteStore
from tests.l0.conftest import Scripted, SleepRecorder

MODEL = "gpt-4o"
PROMPT = 40
WORD = "tok "


def words(count: int) -> list[str]:
    return [WORD] * count


def cost_nanos(prompt: int, completion: int, model: str = MODEL) -> int:
    return to_nanos(default_price_book().estimate_cost(model, prompt, completion))


def affordable_tokens(left_nanos: int, prompt: int = PROMPT) -> int:
    """The most output tokens a user with ``left_nanos`` can pay for, counted by brute force."""
    tokens = 0
    while cost_nanos(prompt, tokens + 1) <= left_nanos:
        tokens += 1
    return tokens


def spent_nanos(tracker: CostTracker, user: str) -> int:
    return sum(to_nanos(entry.cost) for entry in tracker.entries if entry.user_id == user)


@pytest.fixture(params=["memory", "sqlite"])
def make_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], CostTracker]:
    def make() -> CostTracker:
        store = SQLiteStore(tmp_path / "ledger.db") if request.param == "sqlite" else None
        return CostTracker(enforcement_mode="block", store=store)

    return make


def test_the_guard_is_an_attempt_meter_and_validates_its_arguments() -> None:
    tracker = CostTracker()
    assert isinstance(BudgetGuard(tracker, "u", model=MODEL), AttemptMeter)
    with pytest.raises(ValueError, match="user_id"):
        BudgetGuard(tracker, "")
    with pytest.raises(ValueError, match="prompt_tokens"):
        BudgetGuard(tracker, "u", prompt_tokens=-1)
    with pytest.raises(ValueError, match="max_output_tokens"):
        BudgetGuard(tracker, "u", max_output_tokens=0)


async def test_a_long_stream_is_cut_before_the_limit_with_most_affordable_tokens_delivered(
    make_ledger: Callable[[], CostTracker],
) -> None:
    tracker = make_ledger()
    tracker.set_user_budget("ana", BudgetConfig(daily=0.001))
    guard = BudgetGuard(tracker, "ana", model=MODEL, prompt_tokens=PROMPT,
                        max_output_tokens=10_000)
    factory = Scripted(words(10_000))
    result = await l0(factory, budget=guard, retry=RetryConfig(attempts=3))
    delivered: list[str] = []
    with pytest.raises(BudgetExceededError) as raised:
        async for event in result:
            if event.type == "token":
                delivered.append(event.value or "")

    limit = to_nanos(0.001)
    assert spent_nanos(tracker, "ana") <= limit
    assert len(delivered) >= 0.9 * affordable_tokens(limit)
    assert result.state.content == "".join(delivered)
    assert raised.value.user_id == "ana" and raised.value.period == "daily"
    assert factory.calls == 1  # a cut is never retried
    [entry] = tracker.entries
    assert entry.completion_tokens == len(delivered) and entry.prompt_tokens == PROMPT
    assert to_nanos(entry.cost) == cost_nanos(PROMPT, len(delivered))
    assert entry.metadata["l0_outcome"] == "budget"
    assert entry.metadata["l0_stream_id"] == result.stream_id
    assert result.telemetry.cost_usd == entry.cost


async def test_a_user_with_nothing_left_never_has_the_factory_called(
    make_ledger: Callable[[], CostTracker],
) -> None:
    tracker = make_ledger()
    tracker.set_user_budget("ben", BudgetConfig(daily=0.01))
    tracker.add_cost(MODEL, "openai", 100, 0.01, user_id="ben")
    factory = Scripted(words(10))
    result = await l0(factory, budget=BudgetGuard(tracker, "ben", model=MODEL),
                      retry=RetryConfig(attempts=5))
    with pytest.raises(BudgetExceededError) as raised:
        await result.text()
    assert factory.calls == 0
    assert (raised.value.user_id, raised.value.period) == ("ben", "daily")
    assert raised.value.limit == pytest.approx(0.01)
    assert len(tracker.entries) == 1


async def test_a_retry_that_no_longer_fits_is_not_attempted() -> None:
    tracker = CostTracker(enforcement_mode="block")
    first_attempt = 30
    # Room for the first attempt and less than one more token with its prompt.
    limit = cost_nanos(PROMPT, first_attempt) + cost_nanos(PROMPT, 1) - 1
    tracker.set_user_budget("cy", BudgetConfig(daily=limit / 1e9))
    factory = Scripted([*words(first_attempt), ConnectionError("reset")], words(5))
    guard = BudgetGuard(tracker, "cy", model=MODEL, prompt_tokens=PROMPT,
                        max_output_tokens=first_attempt)
    result = await l0(factory, budget=guard, sleep=SleepRecorder())
    with pytest.raises(BudgetExceededError):
        await result.text()
    assert factory.calls == 1
    [entry] = tracker.entries
    assert entry.metadata["l0_outcome"] == "retried"
    assert entry.completion_tokens == first_attempt
    assert spent_nanos(tracker, "cy") <= limit


async def test_every_attempt_is_one_entry_naming_its_attempt_fallback_and_outcome() -> None:
    tracker = CostTracker()
    tracker.set_user_budget("dee", BudgetConfig(daily=5.0))
    primary = Scripted([*words(4), ConnectionError("reset")], [*words(2), TimeoutError("slow")])
    backup = Scripted(words(6))
    guard = BudgetGuard(tracker, "dee", model=MODEL, prompt_tokens=PROMPT,
                        max_output_tokens=100)
    result = await l0(primary, fallback_streams=[backup], budget=guard, sleep=SleepRecorder(),
                      retry=RetryConfig(max_retries=1))
    assert await result.text() == "".join(words(6))
    rows = [(e.metadata["l0_attempt"], e.metadata["l0_fallback_index"],
             e.metadata["l0_outcome"], e.completion_tokens) for e in tracker.entries]
    assert rows == [(1, 0, "retried", 4), (2, 0, "retried", 2), (3, 1, "completed", 6)]
    expected = sum(cost_nanos(PROMPT, tokens) for tokens in (4, 2, 6))
    assert spent_nanos(tracker, "dee") == expected
    assert to_nanos(result.telemetry.cost_usd or 0.0) == expected
    assert guard.cost_usd == pytest.approx(result.telemetry.cost_usd)
    assert tracker.remaining("dee")["daily"] == pytest.approx(5.0 - expected / 1e9)


async def test_an_attempt_that_delivered_nothing_costs_nothing_but_is_recorded() -> None:
    tracker = CostTracker()
    tracker.set_user_budget("eve", BudgetConfig(daily=1.0))
    factory = Scripted([ConnectionError("refused")], words(3))
    guard = BudgetGuard(tracker, "eve", model=MODEL, prompt_tokens=PROMPT)
    await (await l0(factory, budget=guard, sleep=SleepRecorder())).text()
    failed, answered = tracker.entries
    assert (failed.metadata["l0_outcome"], failed.cost) == ("retried", 0.0)
    assert answered.metadata["l0_outcome"] == "completed" and answered.cost > 0


async def test_two_concurrent_guarded_streams_of_one_user_never_pass_the_limit_together(
    make_ledger: Callable[[], CostTracker],
) -> None:
    tracker = make_ledger()
    tracker.set_user_budget("fay", BudgetConfig(daily=0.002))
    outcomes: list[str] = []

    async def stream() -> None:
        # Each estimate (prompt + 120 tokens) is more than half of the limit: the second
        # stream gets what the first left, and both are cut at their holds.
        guard = BudgetGuard(tracker, "fay", model=MODEL, prompt_tokens=PROMPT,
                            max_output_tokens=120)
        result = await l0(Scripted(words(10_000)), budget=guard)
        try:
            await result.text()
            outcomes.append("completed")
        except BudgetExceededError:
            outcomes.append("stopped")

    async with anyio.create_task_group() as group:
        group.start_soon(stream)
        group.start_soon(stream)
    assert outcomes == ["stopped", "stopped"]
    assert sorted(entry.metadata["l0_outcome"] for entry in tracker.entries) == ["budget"] * 2
    assert spent_nanos(tracker, "fay") <= to_nanos(0.002)
    assert spent_nanos(tracker, "fay") >= 0.9 * to_nanos(0.002)


async def test_an_unlimited_user_is_billed_but_never_cut() -> None:
    tracker = CostTracker()
    guard = BudgetGuard(tracker, "gus", model=MODEL, prompt_tokens=PROMPT, max_output_tokens=10)
    text = await (await l0(Scripted(words(50)), budget=guard)).text()
    assert text == "".join(words(50))
    [entry] = tracker.entries
    assert entry.completion_tokens == 50 and entry.metadata["l0_outcome"] == "completed"


async def test_a_guard_without_a_model_says_so() -> None:
    guard = BudgetGuard(CostTracker(), "hal")
    with pytest.raises(ValueError, match="model="):
        await (await l0(Scripted(words(2)), budget=guard)).text()


async def test_a_stream_is_cut_at_its_teams_budget_and_billed_to_the_team(
    make_ledger: Callable[[], CostTracker],
) -> None:
    tracker = make_ledger()
    tracker.set_budget(Scope.team("search"), BudgetConfig(daily=0.001))  # the user has none
    tracker.add_cost(MODEL, "openai", 100, 0.0004, user_id="bo", team="search")
    guard = BudgetGuard(tracker, "ana", model=MODEL, prompt_tokens=PROMPT,
                        max_output_tokens=10_000, team="search")
    result = await l0(Scripted(words(10_000)), budget=guard, retry=None)
    with pytest.raises(BudgetExceededError) as raised:
        await result.text()

    assert "team:search" in raised.value.period
    team_left = tracker.remaining("ana", team="search")["team:search daily"]
    assert team_left >= 0.0
    team_spent = to_nanos(0.0004) + spent_nanos(tracker, "ana")
    assert team_spent <= to_nanos(0.001)
    assert result.state.token_count >= 0.9 * affordable_tokens(to_nanos(0.0006))
    assert to_nanos(0.001) - to_nanos(team_left) == team_spent


def test_a_hold_counts_against_the_team_without_refusing() -> None:
    tracker = CostTracker()
    tracker.set_budget(Scope.team("search"), BudgetConfig(daily=0.01))
    held = tracker.hold("ana", 0.02, model=MODEL, team="search")  # over the team's limit
    assert not tracker.can_afford("bo", 0.001, team="search")
    held.settle(0.003, provider="openai", prompt_tokens=10, completion_tokens=10)
    assert tracker.remaining("bo", team="search")["team:search daily"] == pytest.approx(0.007)
