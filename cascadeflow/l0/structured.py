"""Structured output: a stream of JSON text in, a validated pydantic object out.

The text is repaired with :func:`~cascadeflow.l0.auto_correct.auto_correct_json` when
needed; a validation failure calls the stream factory again (up to ``retry.attempts``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from cascadeflow.l0._errors import L0Error
from cascadeflow.l0._retry import RetryConfig
from cascadeflow.l0._structured_replay import as_factory
from cascadeflow.l0.auto_correct import auto_correct_json

if TYPE_CHECKING:  # pydantic is imported when a schema is used, not with cascadeflow.l0
    from pydantic import BaseModel

__all__ = [
    "StructuredOutputError",
    "StructuredResult",
    "StructuredTelemetry",
    "structured",
    "structured_array",
]

ModelT = TypeVar("ModelT", bound="BaseModel")
ValueT = TypeVar("ValueT")

_DEFAULT_RETRY = RetryConfig()


class StructuredOutputError(L0Error):
    """No attempt produced output that parses and validates against the schema.

    ``errors`` holds each attempt's problem (a ``ValueError`` for unparseable JSON, a
    pydantic ``ValidationError`` otherwise); ``raw`` is the last attempt's text.
    """

    def __init__(self, errors: Sequence[Exception], raw: str) -> None:
        self.errors = list(errors)
        self.raw = raw
        last = self.errors[-1] if self.errors else None
        super().__init__(f"structured output failed after {len(self.errors)} attempt(s)"
                         + (f"; last: {type(last).__name__}: {last}" if last else ""))

    def __reduce__(self) -> tuple[type[StructuredOutputError], tuple[object, ...]]:
        return (StructuredOutputError, (self.errors, self.raw))


@dataclass(slots=True)
class StructuredTelemetry:
    """How the structured run went.

    Attributes:
        attempts: stream runs made (each may itself have retried inside ``l0``).
        validation_failures: attempts whose text did not parse or validate.
        auto_corrected: whether the accepted text needed repair.
        stream: the ``L0Telemetry`` of the accepted run.
    """

    attempts: int = 0
    validation_failures: int = 0
    auto_corrected: bool = False
    stream: Any = None


@dataclass(frozen=True, slots=True)
class StructuredResult(Generic[ValueT]):
    """A validated value and how it was obtained.

    Attributes:
        data: the validated value: an instance of the schema (a list of them for
            :func:`structured_array`).
        raw: the text the model produced, before any repair.
        corrected: whether the text was repaired before parsing.
        corrections: names of the repairs (see ``CorrectionResult.corrections``).
        state: the accepted run's ``L0State``.
        telemetry: a :class:`StructuredTelemetry`.
        errors: the problems of the attempts that failed validation, in order.
    """

    data: ValueT
    raw: str
    corrected: bool
    corrections: tuple[str, ...]
    state: Any
    telemetry: StructuredTelemetry
    errors: list[Exception] = field(default_factory=list)


def _forbidding_extras(schema: type[ModelT]) -> type[ModelT]:
    from pydantic import ConfigDict

    config = ConfigDict(**{**schema.model_config, "extra": "forbid"})
    return type(f"Strict{schema.__name__}", (schema,), {"model_config": config})


class _UnparseableOutput(ValueError):
    """The output could not be repaired or parsed as JSON (one attempt's error)."""


def _parse(text: str, auto_correct: bool) -> tuple[Any, bool, tuple[str, ...]]:
    """Parse (and repair) ``text``; every failure, whatever its type, is a ``ValueError``
    so that it counts as a validation failure: retried, then ``StructuredOutputError``."""
    try:
        if not auto_correct:
            return json.loads(text), False, ()
        correction = auto_correct_json(text)
        if not correction.valid:
            raise _UnparseableOutput(f"output is not JSON: {correction.error}")
        return json.loads(correction.text), correction.corrected, correction.corrections
    except ValueError:
        raise
    except Exception as exc:  # e.g. RecursionError on very deep nesting
        problem = f"output could not be parsed: {type(exc).__name__}: {exc}"
        raise _UnparseableOutput(problem) from exc


async def _run(validate: Callable[[Any], ValueT], stream: Any, *,
               fallback_streams: Sequence[Any], auto_correct: bool, retry: RetryConfig | None,
               on_validation_error: Callable[[Exception, int], Any] | None,
               options: dict[str, Any]) -> StructuredResult[ValueT]:
    from cascadeflow.l0 import l0  # the runtime imports this package: import at call time

    factory = as_factory(stream)
    fallbacks = [as_factory(fallback) for fallback in fallback_streams]
    attempts = retry.attempts if retry is not None else 1
    telemetry = StructuredTelemetry()
    errors: list[Exception] = []
    raw = ""
    for attempt in range(1, max(attempts, 1) + 1):
        telemetry.attempts = attempt
        result = await l0(factory, fallback_streams=fallbacks, retry=retry, **options)
        raw = await result.text()
        try:
            value, corrected, corrections = _parse(raw, auto_correct)
            data = validate(value)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            telemetry.validation_failures += 1
            errors.append(exc)
            if on_validation_error is not None:
                on_validation_error(exc, attempt)
            continue
        telemetry.auto_corrected = corrected
        telemetry.stream = result.telemetry
        return StructuredResult(data, raw, corrected, corrections, result.state, telemetry,
                                errors)
    raise StructuredOutputError(errors, raw)


async def structured(schema: type[ModelT], stream: Any, *, fallback_streams: Sequence[Any] = (),
                     auto_correct: bool = True, strict: bool = False,
                     retry: RetryConfig | None = _DEFAULT_RETRY,
                     on_validation_error: Callable[[Exception, int], Any] | None = None,
                     **options: Any) -> StructuredResult[ModelT]:
    """Run ``stream`` through ``l0`` and validate its text as ``schema``.

    ``stream`` is a zero-argument factory (called again for each attempt) or a plain
    iterable / async iterable of chunks, which is buffered so it can be replayed. The text
    is parsed as JSON, repaired first when ``auto_correct`` (fences, prose, trailing
    commas, truncation, quotes, comments, ...). When it does not parse or validate, the
    stream is run again, up to ``retry.attempts`` times in all (once with ``retry=None``);
    ``on_validation_error(error, attempt)`` hears about each failure. ``strict=True``
    rejects fields the schema does not declare. Other keyword arguments (``guardrails``,
    ``timeout``, ``on_event``, ``drift``, ...) go to :func:`cascadeflow.l0.l0`.

    Raises :class:`StructuredOutputError` when no attempt validates.

    Example:
        >>> class Person(BaseModel):
        ...     name: str
        ...     age: int
        >>> async def answer():
        ...     yield '```json\\n{"name": "Ada", "age": 36,}\\n```'
        >>> result = await structured(Person, answer)
        >>> result.data.name, result.corrected
        ('Ada', True)
    """
    checked = _forbidding_extras(schema) if strict else schema

    def validate(value: Any) -> ModelT:
        instance = checked.model_validate(value)
        return schema.model_validate(instance.model_dump()) if strict else instance

    return await _run(validate, stream, fallback_streams=fallback_streams,
                      auto_correct=auto_correct, retry=retry,
                      on_validation_error=on_validation_error, options=options)


async def structured_array(item_schema: type[ModelT], stream: Any, *,
                           fallback_streams: Sequence[Any] = (), auto_correct: bool = True,
                           strict: bool = False, retry: RetryConfig | None = _DEFAULT_RETRY,
                           on_validation_error: Callable[[Exception, int], Any] | None = None,
                           **options: Any) -> StructuredResult[list[ModelT]]:
    """Like :func:`structured`, for a JSON array whose items validate as ``item_schema``.

    Example:
        >>> class Tag(BaseModel):
        ...     name: str
        >>> async def answer():
        ...     yield '[{"name": "a"}, {"name": "b"'
        >>> [tag.name for tag in (await structured_array(Tag, answer)).data]
        ['a', 'b']
    """
    from pydantic import TypeAdapter

    item_type = _forbidding_extras(item_schema) if strict else item_schema
    checked: TypeAdapter[list[ModelT]] = TypeAdapter(list[item_type])  # type: ignore[valid-type]
    plain: TypeAdapter[list[ModelT]] = TypeAdapter(list[item_schema])  # type: ignore[valid-type]

    def validate(value: Any) -> list[ModelT]:
        items = checked.validate_python(value)
        return plain.validate_python([item.model_dump() for item in items]) if strict else items

    return await _run(validate, stream, fallback_streams=fallback_streams,
                      auto_correct=auto_correct, retry=retry,
                      on_validation_error=on_validation_error, options=options)
