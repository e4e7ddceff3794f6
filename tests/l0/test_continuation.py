"""Checkpoints, continuation and overlap removal."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from cascadeflow.l0 import (
    CheckIntervals,
    OverlapTrimmer,
    RetryConfig,
    consume_stream,
    l0,
    remove_overlap,
)
from tests.l0.conftest import ScriptedWithArgument, SleepRecorder

TEXT = st.text(alphabet="ab c.", max_size=30)


async def test_continuation_removes_overlap_spanning_tokens(sleeps: SleepRecorder) -> None:
    first = ["The", " quick", " brown", " fox", RuntimeError("model failed")]
    # The model repeats " brown fox" split over three tokens before continuing.
    second = [" bro", "wn f", "ox", " jumps", " over"]
    factory = ScriptedWithArgument(first, second)
    result = await l0(factory, continue_from_checkpoint=True,
                      build_continuation=lambda checkpoint: {"prefix": checkpoint},
                      check_intervals=CheckIntervals(checkpoint=2),
                      retry=RetryConfig(base_delay=0.01), sleep=sleeps)
    events = await consume_stream(result)
    assert result.state.content == "The quick brown fox jumps over"
    assert result.state.resumed
    assert factory.arguments == [None, {"prefix": "The quick brown fox"}]
    notice = next(e for e in events if e.type == "error")
    assert notice.data is not None and notice.data["discard_from"] == len("The quick brown fox")
    # What the consumer saw, after applying the discard, is the final text.
    seen = "".join(e.value or "" for e in events[: events.index(notice)] if e.type == "token")
    seen = seen[: notice.data["discard_from"]]
    seen += "".join(e.value or "" for e in events[events.index(notice):] if e.type == "token")
    assert seen == result.state.content


async def test_without_continuation_a_retry_starts_from_nothing(sleeps: SleepRecorder) -> None:
    factory = ScriptedWithArgument(["abc", "def", RuntimeError("x")], ["fresh"])
    result = await l0(factory, check_intervals=CheckIntervals(checkpoint=1), sleep=sleeps)
    assert await result.text() == "fresh"
    assert factory.arguments == [None, None]
    assert not result.state.resumed


def test_remove_overlap_examples() -> None:
    assert remove_overlap("Hello wor", "world") == "ld"
    assert remove_overlap("Hello", "Hello there") == " there"
    assert remove_overlap("abc", "xyz") == "xyz"
    assert remove_overlap("end.", ".start") == ".start"  # one char is not an overlap


@given(checkpoint=TEXT, text=TEXT, cuts=st.lists(st.integers(0, 30), max_size=6))
def test_streaming_trimmer_matches_remove_overlap_for_any_token_split(
        checkpoint: str, text: str, cuts: list[int]) -> None:
    points = sorted({min(c, len(text)) for c in cuts} | {0, len(text)})
    tokens = [text[a:b] for a, b in itertools.pairwise(points)]
    trimmer = OverlapTrimmer(checkpoint)
    out = "".join(trimmer.feed(token) for token in tokens) + trimmer.flush()
    assert out == remove_overlap(checkpoint, text)


@given(checkpoint=TEXT, size=st.integers(2, 10), rest=TEXT)
def test_a_repeated_tail_is_removed(checkpoint: str, size: int, rest: str) -> None:
    overlap = checkpoint[-size:]
    trimmed = remove_overlap(checkpoint, overlap + rest)
    assert (overlap + rest).endswith(trimmed)
    if len(overlap) >= 2:
        assert len(trimmed) <= len(rest)
