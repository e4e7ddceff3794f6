"""structured() and structured_array(): streamed JSON text in, validated pydantic objects out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from typing_extensions import assert_type

from cascadeflow.l0 import (
    L0GuardrailError,
    RetryConfig,
    StructuredOutputError,
    StructuredResult,
    structured,
    structured_array,
)
from cascadeflow.l0.guardrails import json_only
from tests.l0.conftest import Scripted, SleepRecorder


class Person(BaseModel):
    name: str
    age: int
    languages: list[str] = []


class Tag(BaseModel):
    name: str


ADA = Person(name="Ada", age=36, languages=["en", "fr"])


def pieces(text: str, size: int = 7) -> list[str]:
    """Small chunks, so the JSON straddles token boundaries as it does from a model."""
    return [text[i:i + size] for i in range(0, len(text), size)]


@pytest.mark.parametrize(("raw", "repair"), [
    ('```json\n{"name": "Ada", "age": 36, "languages": ["en", "fr"]}\n```',
     "extracted_from_markdown"),
    ('{"name": "Ada", "age": 36, "languages": ["en", "fr",],}', "removed_trailing_commas"),
    ('{"name": "Ada", "age": 36, "languages": ["en", "fr', "closed_brackets"),
    ("{'name': 'Ada', 'age': 36, 'languages': ['en', 'fr']}", "single_quotes"),
    ('{\n  // the person\n  "name": "Ada", /* years */ "age": 36,\n'
     '  "languages": ["en", "fr"] # spoken\n}', "removed_comments"),
], ids=["fenced", "trailing-comma", "truncated", "single-quoted", "comments"])
async def test_broken_json_becomes_a_validated_model(raw: str, repair: str,
                                                     sleeps: SleepRecorder) -> None:
    result = await structured(Person, Scripted(pieces(raw)), sleep=sleeps)

    assert isinstance(result, StructuredResult)
    assert isinstance(result.data, Person)
    assert result.data == ADA
    assert result.raw == raw
    assert result.corrected
    assert repair in result.corrections
    assert result.telemetry.auto_corrected and result.telemetry.attempts == 1
    assert result.state.content == raw


async def test_valid_json_is_parsed_untouched(sleeps: SleepRecorder) -> None:
    raw = ADA.model_dump_json()
    result = await structured(Person, Scripted(pieces(raw)), sleep=sleeps)

    assert result.data == ADA
    assert (result.corrected, result.corrections) == (False, ())
    assert result.errors == []


async def test_result_type_follows_the_schema(sleeps: SleepRecorder) -> None:
    person = await structured(Person, Scripted(['{"name": "Ada", "age": 36}']), sleep=sleeps)
    tags = await structured_array(Tag, Scripted(['[{"name": "a"}]']), sleep=sleeps)

    assert_type(person.data, Person)  # checked by mypy; a no-op at run time
    assert_type(tags.data, list[Tag])
    assert isinstance(person.data, Person)
    assert isinstance(tags.data, list) and all(isinstance(tag, Tag) for tag in tags.data)


async def test_without_auto_correct_broken_json_fails(sleeps: SleepRecorder) -> None:
    factory = Scripted(['```json\n{"name": "Ada", "age": 36}\n```'])
    with pytest.raises(StructuredOutputError) as caught:
        await structured(Person, factory, auto_correct=False, retry=None, sleep=sleeps)
    assert isinstance(caught.value.errors[0], ValueError)
    assert factory.calls == 1


async def test_strict_mode_rejects_fields_the_schema_does_not_declare(
        sleeps: SleepRecorder) -> None:
    raw = '{"name": "Ada", "age": 36, "title": "Countess"}'

    lenient = await structured(Person, Scripted([raw]), sleep=sleeps)
    assert lenient.data == Person(name="Ada", age=36)

    with pytest.raises(StructuredOutputError) as caught:
        await structured(Person, Scripted([raw]), strict=True, retry=None, sleep=sleeps)
    error = caught.value.errors[0]
    assert isinstance(error, ValidationError)
    assert [e["type"] for e in error.errors()] == ["extra_forbidden"]
    assert caught.value.raw == raw


async def test_strict_mode_returns_an_instance_of_the_schema_itself(
        sleeps: SleepRecorder) -> None:
    result = await structured(Person, Scripted(['{"name": "Ada", "age": 36}']), strict=True,
                              sleep=sleeps)
    assert type(result.data) is Person


async def test_validation_failure_calls_the_factory_again(sleeps: SleepRecorder) -> None:
    seen: list[tuple[str, int]] = []
    factory = Scripted(['{"name": "Ada", "age": "thirty-six"}'],
                       ['{"name": "Ada", "age": 36}'])

    result = await structured(Person, factory, sleep=sleeps,
                              on_validation_error=lambda e, n: seen.append((type(e).__name__, n)))

    assert factory.calls == 2
    assert result.data == Person(name="Ada", age=36)
    assert result.raw == '{"name": "Ada", "age": 36}'
    assert seen == [("ValidationError", 1)]
    assert result.telemetry.attempts == 2 and result.telemetry.validation_failures == 1
    assert len(result.errors) == 1


async def test_unparseable_output_also_retries(sleeps: SleepRecorder) -> None:
    factory = Scripted(["I could not produce JSON, sorry."], ['{"name": "Ada", "age": 36}'])
    result = await structured(Person, factory, sleep=sleeps)

    assert factory.calls == 2
    assert result.data.name == "Ada"
    assert isinstance(result.errors[0], ValueError)


async def test_exhausted_attempts_raise_structured_output_error(sleeps: SleepRecorder) -> None:
    factory = Scripted(['{"name": "Ada"}'])  # age missing every time
    with pytest.raises(StructuredOutputError) as caught:
        await structured(Person, factory, retry=RetryConfig(attempts=3), sleep=sleeps)

    assert factory.calls == 3
    assert len(caught.value.errors) == 3
    assert all(isinstance(error, ValidationError) for error in caught.value.errors)
    assert caught.value.raw == '{"name": "Ada"}'
    assert "3 attempt(s)" in str(caught.value)


async def test_a_plain_iterable_is_buffered_and_replayed(sleeps: SleepRecorder) -> None:
    chunks = ['{"name": ', '"Ada", "age": 36}']
    result = await structured(Person, iter(chunks), sleep=sleeps)
    assert result.data == Person(name="Ada", age=36)

    async def once() -> AsyncIterator[str]:
        yield '{"name": "Ada"}'

    # A one-shot async generator fails validation, is replayed, and fails the same way.
    with pytest.raises(StructuredOutputError) as caught:
        await structured(Person, once(), retry=RetryConfig(attempts=2), sleep=sleeps)
    assert len(caught.value.errors) == 2


async def test_fallback_stream_supplies_the_json_when_the_primary_fails(
        sleeps: SleepRecorder) -> None:
    primary = Scripted([ConnectionError("down")])
    backup = Scripted(['{"name": "Ada", "age": 36}'])
    result = await structured(Person, primary, fallback_streams=[backup],
                              retry=RetryConfig(attempts=1, max_retries=1), sleep=sleeps)

    assert result.data.age == 36
    assert backup.calls == 1
    assert result.state.fallback_index == 1


async def test_guardrails_pass_through_to_the_stream(sleeps: SleepRecorder) -> None:
    factory = Scripted(['{"name": "Ada", "age": 36}'])
    result = await structured(Person, factory, guardrails=json_only(), sleep=sleeps)
    assert result.data.age == 36

    refusing = Scripted(["I can't help with that."])
    with pytest.raises(L0GuardrailError):
        await structured(Person, refusing, guardrails=json_only(),
                         retry=RetryConfig(attempts=1), sleep=sleeps)


async def test_structured_array_validates_every_item(sleeps: SleepRecorder) -> None:
    raw = '```json\n[{"name": "a"}, {"name": "b"}, {"name": "c"'
    result = await structured_array(Tag, Scripted(pieces(raw)), sleep=sleeps)

    assert [tag.name for tag in result.data] == ["a", "b", "c"]
    assert result.corrected
    assert {"extracted_from_markdown", "closed_brackets"} <= set(result.corrections)


async def test_structured_array_strict_rejects_extra_fields_and_retries(
        sleeps: SleepRecorder) -> None:
    factory = Scripted(['[{"name": "a", "colour": "red"}]'], ['[{"name": "a"}]'])
    result = await structured_array(Tag, factory, strict=True, sleep=sleeps)

    assert factory.calls == 2
    assert [type(tag) for tag in result.data] == [Tag]
    assert isinstance(result.errors[0], ValidationError)


async def test_structured_output_from_a_litellm_stream() -> None:
    import litellm

    async def stream() -> Any:
        return await litellm.acompletion(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Who is Ada?"}],
            stream=True, mock_response='```json\n{"name": "Ada", "age": 36, "languages": ["en"')

    result = await structured(Person, stream)

    assert result.data == Person(name="Ada", age=36, languages=["en"])
    assert result.corrections == ("extracted_from_markdown", "closed_brackets")


class Tagged(BaseModel):
    n: int
    tags: list[int]


async def test_an_abbreviated_list_validates(sleeps: SleepRecorder) -> None:
    raw = '{"n": 1, "tags": [1, 2, ...]}'
    result = await structured(Tagged, Scripted(pieces(raw)), sleep=sleeps)
    assert result.data == Tagged(n=1, tags=[1, 2])
    assert "removed_ellipses" in result.corrections


@pytest.mark.parametrize("auto_correct", [True, False])
async def test_output_that_cannot_be_parsed_is_a_validation_failure(
        auto_correct: bool, sleeps: SleepRecorder) -> None:
    raw = "[" * 50_000 + "]" * 50_000  # json.loads raises RecursionError on this
    seen: list[Exception] = []
    factory = Scripted([raw])
    with pytest.raises(StructuredOutputError) as caught:
        await structured(Tagged, factory, auto_correct=auto_correct,
                         retry=RetryConfig(attempts=2), sleep=sleeps,
                         on_validation_error=lambda error, attempt: seen.append(error))
    assert factory.calls == 2
    assert caught.value.raw == raw
    assert len(seen) == 2 and all(isinstance(error, ValueError) for error in seen)


@pytest.mark.parametrize("raw", ["#\\e_-x\ntrue/**/)None \".key{1...[//", "[.", "(x", "…"])
async def test_junk_ends_in_structured_output_error(raw: str, sleeps: SleepRecorder) -> None:
    with pytest.raises(StructuredOutputError) as caught:
        await structured_array(Tag, Scripted([raw]), retry=None, sleep=sleeps)
    assert caught.value.raw == raw
