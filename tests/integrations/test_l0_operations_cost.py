"""What L0's operations over many streams cost, in their results and in the ledger.

Every stream is a guarded ``acompletion(stream=True)`` with LiteLLM's ``mock_response``:
a race's abandoned loser, a consensus of three models, a parallel run, a pipeline and a
document window each report the same cost as the entries the ledger recorded.
"""

from __future__ import annotations

from typing import Any

import anyio
import litellm
import pytest

from cascadeflow.integrations.litellm import acompletion
from cascadeflow.l0 import Step, consensus, create_window, parallel, pipe, race
from cascadeflow.telemetry import CostTracker

LONG_ANSWER = " ".join(f"word{index}" for index in range(400))


class Paced:
    """A provider stream delivered slowly (mock streams arrive all at once), so that a
    race can cancel it midway; everything else (``aclose``, ``cost_usd``) is the stream's."""

    def __init__(self, stream: Any, pause: float) -> None:
        self._stream = stream
        self._pause = pause

    def __aiter__(self) -> Paced:
        return self

    async def __anext__(self) -> Any:
        await anyio.sleep(self._pause)
        return await self._stream.__anext__()

    async def aclose(self) -> None:
        await self._stream.aclose()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def ask(tracker: CostTracker, messages: Any, model: str, answer: str, user: str = "u1",
        pause: float = 0.0) -> Any:
    async def factory() -> Any:
        stream = await acompletion(model=model, messages=messages, user=user, stream=True,
                                   tracker=tracker, mock_response=answer)
        return Paced(stream, pause) if pause else stream
    return factory


def ledger_total(tracker: CostTracker, user: str = "u1") -> float:
    return sum(entry.cost for entry in tracker.get_entries_by_user(user))


async def test_a_race_bills_and_reports_what_the_loser_delivered(tracker, messages):
    slow = ask(tracker, messages, "gpt-4o", LONG_ANSWER, pause=0.002)
    fast = ask(tracker, messages, "gpt-4o-mini", "Short answer.", pause=0.0)
    # The slow model starts first and has streamed for a while before the fast one answers.
    async def fast_after_a_moment() -> Any:
        await anyio.sleep(0.05)
        return await fast()

    result = await race([slow, fast_after_a_moment])
    assert (result.winner_index, result.value) == (1, "Short answer.")
    [loser] = result.losers
    assert loser.status == "cancelled"
    partial = loser.result.state.content
    assert 0 < len(partial) < len(LONG_ANSWER)

    entries = {entry.model: entry for entry in tracker.get_entries_by_user("u1")}
    assert set(entries) == {"gpt-4o", "gpt-4o-mini"}
    billed_loser = entries["gpt-4o"]
    assert billed_loser.metadata["stream_outcome"] == "abandoned"
    assert billed_loser.completion_tokens == litellm.token_counter(model="gpt-4o", text=partial)
    assert loser.cost_usd == pytest.approx(billed_loser.cost) and loser.cost_usd > 0
    assert result.outcomes[1].cost_usd == pytest.approx(entries["gpt-4o-mini"].cost)
    assert result.cost_usd == pytest.approx(ledger_total(tracker))
    assert result.losers_cost_usd == pytest.approx(billed_loser.cost)


async def test_a_consensus_of_three_models_costs_all_three(tracker, messages):
    models = ["gpt-4o", "gpt-4o-mini", "claude-haiku-4-5"]
    answers = ["The answer is 42.", "the answer is 42", "The answer is 41."]
    result = await consensus([ask(tracker, messages, model, answer)
                              for model, answer in zip(models, answers, strict=True)])
    assert result.value == "The answer is 42." and result.status == "consensus"
    entries = tracker.get_entries_by_user("u1")
    assert sorted(entry.model for entry in entries) == sorted(models)
    by_model = {entry.model: entry.cost for entry in entries}
    assert [output.cost_usd for output in result.outputs] == [
        pytest.approx(by_model[model]) for model in models]
    assert result.cost_usd == pytest.approx(ledger_total(tracker))
    assert result.cost_usd > 0


async def test_parallel_pipeline_and_window_report_the_ledger_cost(messages):
    tracker = CostTracker()
    result = await parallel([ask(tracker, messages, "gpt-4o-mini", f"answer {index}")
                             for index in range(4)], concurrency=2)
    assert result.results == [f"answer {index}" for index in range(4)]
    assert result.telemetry.cost_usd == pytest.approx(ledger_total(tracker))
    assert result.telemetry.cost_usd > 0

    piped = CostTracker()
    steps = [Step("draft", lambda text, ctx: ask(piped, messages, "gpt-4o-mini", "a draft")),
             Step("polish", lambda text, ctx: ask(piped, messages, "gpt-4o", f"{text}, polished"))]
    outcome = await pipe(steps, "topic")
    assert outcome.output == "a draft, polished"
    assert [step.cost_usd for step in outcome.steps] == [
        pytest.approx(entry.cost) for entry in piped.get_entries_by_user("u1")]
    assert outcome.cost_usd == pytest.approx(ledger_total(piped))

    windowed = CostTracker()
    window = create_window("lorem ipsum " * 200, size=100, overlap=10)
    processed = await window.process_all(
        lambda chunk: ask(windowed, messages, "gpt-4o-mini", chunk.content[:20]))
    assert processed.success_count == len(window) == len(windowed.get_entries_by_user("u1"))
    assert processed.cost_usd == pytest.approx(ledger_total(windowed))
