"""Document windows: exact sizes, full coverage, no repeated chunk, one counter for all."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest

from cascadeflow.l0 import (
    DocumentWindow,
    L0LifecycleEvent,
    WindowChunk,
    create_window,
    estimate_tokens,
)
from cascadeflow.l0._tokens import tiktoken_encoding
from tests.l0.conftest import Words

PROSE = " ".join(f"Sentence number {index} says something short." for index in range(300))
PARAGRAPHS = "\n\n".join(f"Paragraph {index}. " + "word " * (5 + index % 17)
                         for index in range(120))


def words_counted(text: str) -> int:
    return len(text.split())


def assert_well_formed(window: DocumentWindow, document: str) -> None:
    """Chunks are slices of the document that cover it and never repeat inside another."""
    assert window[0].start == 0 and window[-1].end == len(document)
    for chunk in window:
        assert document[chunk.start:chunk.end] == chunk.content
    for before, after in pairwise(window):
        assert after.start <= before.end, "a gap between chunks"
        assert after.start > before.start and after.end > before.end, "a repeated chunk"
    assert [chunk.index for chunk in window] == list(range(len(window)))


def test_char_windows_are_exactly_size_characters() -> None:
    document = "abcdefghij" * 25
    window = create_window(document, size=100, overlap=10, strategy="char")
    assert [(chunk.start, chunk.end) for chunk in window] == [(0, 100), (90, 190), (180, 250)]
    assert [len(chunk.content) for chunk in window] == [100, 100, 70]
    assert_well_formed(window, document)


@pytest.mark.parametrize("length", [100, 190, 191, 199, 200, 1000, 1001])
def test_no_trailing_chunk_lies_inside_the_previous_one(length: int) -> None:
    document = "x" * length
    window = create_window(document, size=100, overlap=10, strategy="char")
    assert_well_formed(window, document)
    assert len(window) == max(1, -(-(length - 10) // 90))


def test_token_windows_with_tiktoken_hold_size_tokens_and_overlap() -> None:
    encoding = tiktoken_encoding("gpt-4o")
    window = create_window(PROSE, size=200, overlap=20, model="gpt-4o")
    assert_well_formed(window, PROSE)
    assert all(chunk.token_count == 200 for chunk in window[:-1])
    assert 0 < window[-1].token_count <= 200
    for chunk in window[:-1]:
        assert abs(len(encoding.encode_ordinary(chunk.content)) - 200) <= 2
    tokens_in_overlap = encoding.encode_ordinary(PROSE[window[1].start:window[0].end])
    assert abs(len(tokens_in_overlap) - 20) <= 2


def test_token_windows_keep_multibyte_characters_whole() -> None:
    document = "naïve café — 日本語のテキストです。" * 60
    window = create_window(document, size=37, overlap=5, model="gpt-4o")
    assert_well_formed(window, document)


def test_without_a_tokenizer_the_documented_estimate_is_used() -> None:
    assert estimate_tokens("abcdefgh") == 2 and estimate_tokens("abcdefghi") == 3
    window = create_window("y" * 1000, size=50, overlap=5)
    assert [len(chunk.content) for chunk in window[:-1]] == [200] * (len(window) - 1)
    assert window[0].token_count == 50
    assert window[1].start == 180  # 5 tokens of overlap are 20 characters


def test_a_custom_counter_is_used_by_every_strategy() -> None:
    for strategy in ("token", "paragraph", "sentence"):
        window = create_window(PARAGRAPHS, size=40, overlap=8, strategy=strategy,
                               count_tokens=words_counted)
        assert_well_formed(window, PARAGRAPHS)
        assert all(chunk.token_count == words_counted(chunk.content) <= 40 for chunk in window)


def test_paragraph_windows_keep_paragraphs_whole_and_overlap_by_whole_ones() -> None:
    window = create_window(PARAGRAPHS, size=60, overlap=15, strategy="paragraph",
                           count_tokens=words_counted)
    assert_well_formed(window, PARAGRAPHS)
    for chunk in window:
        assert chunk.content.startswith("Paragraph ")
        assert chunk.start == 0 or PARAGRAPHS[chunk.start - 2:chunk.start] == "\n\n"
    overlapping = [before.end - after.start for before, after in pairwise(window)]
    assert any(size > 0 for size in overlapping)


def test_sentence_windows_respect_size_with_the_model_tokenizer() -> None:
    encoding = tiktoken_encoding("gpt-4o")
    window = create_window(PROSE, size=64, overlap=10, strategy="sentence", model="gpt-4o")
    assert_well_formed(window, PROSE)
    for chunk in window:
        assert chunk.content.startswith("Sentence number")
        assert len(encoding.encode_ordinary(chunk.content)) == chunk.token_count <= 64


def test_an_oversized_paragraph_is_cut_to_size() -> None:
    document = "short one\n\n" + "huge " * 500 + "\n\nshort two"
    window = create_window(document, size=50, overlap=0, strategy="paragraph",
                           count_tokens=words_counted)
    assert_well_formed(window, document)
    assert all(chunk.token_count <= 50 for chunk in window)


@pytest.mark.parametrize(("options", "message"), [
    ({"size": 0}, "size must be a positive integer"),
    ({"size": 10, "overlap": 10}, "overlap must be an integer from 0 to size - 1"),
    ({"overlap": -1}, "overlap must be"),
    ({"strategy": "words"}, "strategy must be one of"),
])
def test_bad_options_are_named(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        create_window("text", **options)
    with pytest.raises(TypeError, match="document as str"):
        create_window(b"bytes")  # type: ignore[arg-type]


def test_an_empty_document_has_no_chunks() -> None:
    assert len(create_window("")) == 0


def test_process_all_runs_every_chunk_in_order_and_merges(on_backends: Any) -> None:
    window = create_window("abcdefghij" * 3, size=10, overlap=0, strategy="char")
    seen: list[L0LifecycleEvent] = []

    async def summarise(chunk: WindowChunk) -> Any:
        return {"stream": Words(chunk.content.upper(), pause=0.001 * (3 - chunk.index))}

    async def main() -> tuple[Any, Any]:
        return (await window.process_all(summarise, concurrency=3, on_event=seen.append),
                await window.process_sequential(lambda chunk: Words(str(chunk.index))))

    parallel_result, sequential_result = on_backends(main)
    assert parallel_result.results == ["ABCDEFGHIJ"] * 3
    assert sequential_result.results == ["0", "1", "2"]
    assert window.merge_results(sequential_result, "|") == "0|1|2"
    assert DocumentWindow.merge_results(["a", None, "b"], " ") == "a b"
    chunks = [event.data for event in seen if event.type == "window_chunk"]
    assert [(data["index"], data["start"], data["status"]) for data in chunks] == [
        (0, 0, "success"), (1, 10, "success"), (2, 20, "success")]


def test_a_chunk_whose_task_cannot_be_made_fails_alone(on_backends: Any) -> None:
    window = create_window("abcdefghij", size=5, overlap=0, strategy="char")

    def make(chunk: WindowChunk) -> Any:
        if chunk.index == 0:
            raise LookupError("no prompt for this chunk")
        return Words(chunk.content)

    async def main() -> Any:
        return await window.process_all(make)

    result = on_backends(main)
    assert result.statuses == ["error", "success"] and result.results[1] == "fghij"
    assert isinstance(result.errors[0], LookupError)
