"""consensus: numbers never merge, the majority wins, weights count, schemas vote per field."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from pydantic import BaseModel

from cascadeflow.l0 import ConsensusError, L0LifecycleEvent, consensus, similarity
from tests.l0.conftest import Words

LONG = "alpha beta gamma delta epsilon zeta eta theta"


class Person(BaseModel):
    name: str
    age: int


def test_outputs_stating_different_numbers_never_agree() -> None:
    assert similarity("The answer to the question is 42.", "The answer to the question is 43.") \
        == 0.0
    assert similarity("The answer is 42.", "the answer is 42") == 1.0
    assert similarity("1,000 apples", "1000 apples") == 1.0
    assert similarity("Paris", "Lyon") == 0.0


def test_the_minority_never_wins_a_majority_vote(on_backends: Any) -> None:
    tasks = [Words("After careful thought, the answer is 42."),
             Words("After careful thought, the answer is 43."),
             Words("After careful thought the answer is 43")]

    async def main() -> Any:
        return await consensus(tasks)

    result = on_backends(main)
    assert result.value == "After careful thought, the answer is 43."
    assert result.confidence == pytest.approx(2 / 3)
    assert result.status == "consensus"
    assert [vote.indices for vote in result.disagreements] == [(1, 2), (0,)]
    assert result.agreements == []


def test_structured_consensus_is_built_from_the_winning_fields(on_backends: Any) -> None:
    tasks = [Words('{"name": "Ada", "age": 30}'), Words('{"name": "Ada", "age": 31}'),
             Words('{"name": "Ada", "age": 31}')]

    async def main() -> Any:
        return await consensus(tasks, schema=Person)

    result = on_backends(main)
    assert result.value == Person(name="Ada", age=31)
    fields = result.field_consensus
    assert fields is not None
    assert fields["age"].value == result.value.age == 31
    assert fields["age"].share == pytest.approx(2 / 3) and not fields["age"].unanimous
    assert fields["name"].unanimous and fields["name"].value == "Ada"
    assert result.confidence == pytest.approx((1 + 2 / 3) / 2)
    assert [(vote.field, vote.value) for vote in result.agreements] == [("name", "Ada")]
    assert [(vote.value, vote.indices) for vote in result.disagreements] == [
        (31, (1, 2)), (30, (0,))]


def test_weighted_strategy_honours_the_weights(on_backends: Any) -> None:
    tasks = [Words("Paris"), Words("Lyon"), Words("Lyon")]

    async def main() -> tuple[Any, Any]:
        heavy = await consensus(tasks, strategy="weighted", weights=[3, 1, 1])
        light = await consensus(tasks, strategy="weighted", weights=[1, 1, 1])
        return heavy, light

    heavy, light = on_backends(main)
    assert (heavy.value, heavy.confidence) == ("Paris", pytest.approx(0.6))
    assert (light.value, light.confidence) == ("Lyon", pytest.approx(2 / 3))


def test_best_strategy_picks_the_highest_weight(on_backends: Any) -> None:
    tasks = [Words("Paris"), Words("Lyon"), Words("Marseille")]

    async def main() -> tuple[Any, Any]:
        return (await consensus(tasks, strategy="best", weights=[1, 1, 5]),
                await consensus(tasks, strategy="best", weights=[1, 4, 1]))

    third, second = on_backends(main)
    assert third.value == "Marseille" and second.value == "Lyon"


def test_best_structured_output_by_weight(on_backends: Any) -> None:
    tasks = [Words('{"name": "Ada", "age": 30}'), Words('{"name": "Bob", "age": 31}')]

    async def main() -> Any:
        return await consensus(tasks, schema=Person, strategy="best", weights=[1, 2])

    result = on_backends(main)
    assert result.value == Person(name="Bob", age=31)
    assert result.field_consensus["name"].value == "Bob"


def test_unanimous_compares_every_pair_not_only_the_first(on_backends: Any) -> None:
    # Output 0 is close to 1 and to 2, but 1 and 2 differ in two words.
    first = LONG
    second = "OMEGA " + LONG.split(" ", 1)[1]
    third = LONG.rsplit(" ", 1)[0] + " IOTA"
    assert similarity(first, second) >= 0.8 and similarity(first, third) >= 0.8
    assert similarity(second, third) < 0.8

    async def main() -> Any:
        return await consensus([Words(first), Words(second), Words(third)],
                               strategy="unanimous", resolve="fail")

    with pytest.raises(ConsensusError, match="no unanimous consensus"):
        on_backends(main)


def test_unanimous_agreement_and_resolutions(on_backends: Any) -> None:
    same = [Words("Paris."), Words("paris"), Words(" Paris ")]
    split = [Words("Paris"), Words("Paris"), Words("Lyon")]

    async def main() -> tuple[Any, ...]:
        return (await consensus(same, strategy="unanimous"),
                await consensus(split, strategy="unanimous", resolve="vote"),
                await consensus(split, strategy="unanimous", resolve="merge"),
                await consensus(split, strategy="unanimous", resolve="best",
                                weights=[1, 1, 2]))

    agreed, voted, merged, best = on_backends(main)
    assert (agreed.status, agreed.confidence, agreed.value) == ("consensus", 1.0, "Paris.")
    assert [vote.indices for vote in agreed.agreements] == [(0, 1, 2)]
    assert (voted.status, voted.value) == ("resolved", "Paris")
    assert merged.value == "Paris\n\nLyon"
    assert best.value == "Lyon"


def test_a_majority_below_the_minimum_agreement_is_resolved(on_backends: Any) -> None:
    tasks = [Words("red"), Words("red"), Words("blue"), Words("green")]

    async def main() -> Any:
        return await consensus(tasks, minimum_agreement=0.6)

    result = on_backends(main)
    assert (result.value, result.status, result.confidence) == ("red", "resolved", 0.5)


def test_failed_tasks_do_not_vote_and_all_failing_raises(on_backends: Any) -> None:
    async def main() -> Any:
        return await consensus([Words(ValueError("down")), Words("42"), Words("42")],
                               retry=None)

    result = on_backends(main)
    assert result.value == "42" and result.confidence == 1.0
    assert [output.status for output in result.outputs] == ["error", "success", "success"]

    async def failing() -> Any:
        return await consensus([Words(ValueError("a")), Words(KeyError("b"))], retry=None)

    with pytest.raises(ConsensusError, match="every task"):
        on_backends(failing)


def test_consensus_emits_its_vote(on_backends: Any) -> None:
    seen: list[L0LifecycleEvent] = []

    async def main() -> Any:
        return await consensus([Words("yes"), Words("yes")], on_event=seen.append)

    on_backends(main)
    [vote] = [event for event in seen if event.type == "consensus_vote"]
    assert vote.data["strategy"] == "majority" and vote.data["confidence"] == 1.0


@pytest.mark.parametrize(("options", "message"), [
    ({"strategy": "plurality"}, "strategy must be one of"),
    ({"resolve": "coin"}, "resolve must be one of"),
    ({"threshold": 0}, "threshold must be in"),
    ({"weights": [1]}, "weights has 1 entries for 2 tasks"),
    ({"weights": [1, -1]}, "must not be negative"),
])
def test_bad_options_are_named(options: dict[str, Any], message: str) -> None:
    async def main() -> Any:
        return await consensus([Words("a"), Words("b")], **options)

    with pytest.raises(ValueError, match=message):
        anyio.run(main)


def test_plain_callables_may_vote_with_dicts_or_json(on_backends: Any) -> None:
    async def as_dict() -> dict[str, Any]:
        return {"name": "Ada", "age": 36}

    async def as_json() -> str:
        return '{"name": "Ada", "age": 36}'

    async def main() -> Any:
        return await consensus([as_dict, as_json, Words('{"name": "Ada", "age": 37}')],
                               schema=Person)

    result = on_backends(main)
    assert result.value == Person(name="Ada", age=36)


def test_structured_resolutions_when_agreement_falls_short(on_backends: Any) -> None:
    people = ['{"name": "Ada", "age": 30}', '{"name": "Bob", "age": 31}',
              '{"name": "Ada", "age": 31}']

    async def main() -> tuple[Any, Any]:
        tasks = [Words(person) for person in people]
        voted = await consensus(tasks, schema=Person, strategy="unanimous")
        best = await consensus([Words(person) for person in people], schema=Person,
                               strategy="unanimous", resolve="best", weights=[1, 5, 1])
        return voted, best

    voted, best = on_backends(main)
    assert voted.status == "resolved" and voted.value == Person(name="Ada", age=31)
    assert best.status == "resolved" and best.value == Person(name="Bob", age=31)
    assert best.field_consensus["name"].value == "Bob"

    async def failing() -> Any:
        return await consensus([Words(person) for person in people], schema=Person,
                               strategy="unanimous", resolve="fail")

    with pytest.raises(ConsensusError):
        on_backends(failing)
