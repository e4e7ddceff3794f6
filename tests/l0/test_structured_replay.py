"""A plain iterator given to structured() is buffered so each attempt can replay it."""

from __future__ import annotations

from cascadeflow.l0._structured_replay import ReplayableStream, as_factory


async def collect(stream) -> list[str]:  # type: ignore[no-untyped-def]
    return [item async for item in stream]


async def test_a_plain_iterator_is_replayed_in_full_on_every_call():
    factory = as_factory(iter(["{", '"a": 1', "}"]))
    assert isinstance(factory, ReplayableStream)
    assert await collect(factory()) == ["{", '"a": 1', "}"]
    assert await collect(factory()) == ["{", '"a": 1', "}"]
    assert factory.calls == 2


async def test_a_replay_after_a_partial_read_continues_the_source():
    async def source():  # type: ignore[no-untyped-def]
        for item in ("a", "b", "c"):
            yield item

    factory = as_factory(source())
    first = factory()
    assert await first.__anext__() == "a"  # the first attempt stopped early
    assert await collect(factory()) == ["a", "b", "c"]


def test_a_factory_is_used_as_given():
    def factory() -> list[str]:
        return ["x"]

    assert as_factory(factory) is factory
