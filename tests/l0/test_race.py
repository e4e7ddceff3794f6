"""race: the first success wins, ties go to the completion observed first, losers close."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from cascadeflow.l0 import L0LifecycleEvent, RaceError, race
from tests.l0.conftest import Words


def test_the_first_to_complete_wins_and_losers_are_cancelled_and_closed(on_backends: Any) -> None:
    slow = Words("slow", " and", " steady", pause=0.05)
    slower = Words("slower", pause=0.2)
    fast = Words("quick", " answer", pause=0.001)

    async def main() -> Any:
        return await race([slow, fast, slower])

    result = on_backends(main)
    assert (result.value, result.winner_index) == ("quick answer", 1)
    assert result.result is not None and result.result.state.completed
    assert [loser.index for loser in result.losers] == [0, 2]
    assert [loser.status for loser in result.losers] == ["cancelled", "cancelled"]
    # Their streams' finally blocks ran before race() returned; nothing more was read.
    assert slow.closed and slower.closed
    assert slow.delivered == [] and slower.delivered == []
    assert result.cost_usd is None and result.losers_cost_usd is None


def test_a_loser_keeps_the_partial_text_it_delivered(on_backends: Any) -> None:
    talkative = Words(*[f"w{index} " for index in range(100)], pause=0.002)
    winner = Words("done", pause=0.03)

    async def main() -> Any:
        return await race([talkative, winner])

    result = on_backends(main)
    assert result.winner_index == 1
    [loser] = result.losers
    partial = loser.result.state.content
    assert partial == "".join(talkative.delivered) and 0 < len(talkative.delivered) < 100
    assert talkative.closed


def test_same_tick_ties_go_to_the_completion_observed_first(on_backends: Any) -> None:
    async def tied(log: list[Any], name: int) -> Any:
        # Every stream wakes in the same loop tick and completes without another pause.
        await anyio.sleep(0)
        yield f"answer {name}"
        log.append(("end", name))

    async def main() -> list[tuple[int, int]]:
        pairs = []
        for _ in range(200):
            log: list[Any] = []
            factories = [_bound(tied, log, name) for name in range(6)]
            result = await race(factories)
            pairs.append((result.winner_index, log[0][1]))
        return pairs

    pairs = on_backends(main)
    assert all(winner == first_done for winner, first_done in pairs), pairs
    if on_backends.backend == "asyncio":  # FIFO scheduling: the first task started finishes first
        assert {winner for winner, _ in pairs} == {0}


def _bound(function: Any, *args: Any) -> Any:
    """A zero-argument factory (a factory taking an argument gets l0's continuation)."""
    return lambda: function(*args)


def test_failures_do_not_win(on_backends: Any) -> None:
    broken = Words(ValueError("instant failure"))
    later = Words("late but right", pause=0.02)

    async def main() -> Any:
        return await race([broken, later], retry=None)

    result = on_backends(main)
    assert (result.winner_index, result.value) == (1, "late but right")
    assert result.losers[0].status == "error"
    assert isinstance(result.losers[0].error, ValueError)


def test_when_every_task_fails_the_error_carries_every_failure(on_backends: Any) -> None:
    async def main() -> Any:
        return await race([Words(ValueError("one")), Words(KeyError("two"), pause=0.01)],
                          retry=None)

    with pytest.raises(RaceError) as raised:
        on_backends(main)
    assert [type(error).__name__ for error in raised.value.errors] == ["ValueError", "KeyError"]
    assert "task 0: ValueError: one" in str(raised.value)
    assert "task 1: KeyError" in str(raised.value)


def test_race_emits_its_winner(on_backends: Any) -> None:
    seen: list[L0LifecycleEvent] = []

    async def main() -> Any:
        return await race([Words("a", pause=0.05), Words("b")], on_event=seen.append)

    on_backends(main)
    [winner] = [event for event in seen if event.type == "race_winner"]
    assert winner.data["index"] == 1 and winner.data["losers"] == [0]
    assert seen[0].type == "operation_start" and seen[-1].type == "operation_end"


def test_race_needs_tasks() -> None:
    with pytest.raises(ValueError, match="at least one task"):
        anyio.run(race, [])


class Priced:
    """A stream that prices what it delivered once it ends, as guarded LiteLLM streams do."""

    PRICE_PER_CHUNK = 0.001

    def __init__(self, *words: str, pause: float) -> None:
        self._words = list(words)
        self._pause = pause
        self.delivered = 0
        self.cost_usd: float | None = None

    def __aiter__(self) -> Priced:
        return self

    async def __anext__(self) -> str:
        try:
            await anyio.sleep(self._pause)
        except BaseException:
            self._end()
            raise
        if self.delivered == len(self._words):
            self._end()
            raise StopAsyncIteration
        self.delivered += 1
        return self._words[self.delivered - 1]

    async def aclose(self) -> None:
        self._end()

    def _end(self) -> None:
        if self.cost_usd is None:
            self.cost_usd = self.delivered * self.PRICE_PER_CHUNK


def test_losers_report_the_cost_their_streams_priced(on_backends: Any) -> None:
    made: dict[str, Priced] = {}

    def priced(name: str, *words: str, pause: float) -> Any:
        def factory() -> Priced:
            made[name] = Priced(*words, pause=pause)
            return made[name]
        return factory

    async def main() -> Any:
        return await race([priced("slow", *(["slow "] * 200), pause=0.002),
                           priced("fast", "fast", pause=0.03)])

    result = on_backends(main)
    slow, fast = made["slow"], made["fast"]
    assert result.winner_index == 1 and fast.cost_usd == Priced.PRICE_PER_CHUNK
    [loser] = result.losers
    assert 0 < slow.delivered < 200
    assert loser.cost_usd == pytest.approx(slow.delivered * Priced.PRICE_PER_CHUNK)
    assert result.cost_usd == pytest.approx((slow.delivered + 1) * Priced.PRICE_PER_CHUNK)
