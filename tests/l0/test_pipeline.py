"""Pipelines: outputs chain, step options (guardrails) are honoured, every callback awaited."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from cascadeflow.l0 import (
    L0GuardrailError,
    L0LifecycleEvent,
    L0Result,
    PipelineContext,
    Step,
    StepResult,
    branch,
    create_pipeline,
    pipe,
)
from cascadeflow.l0.guardrails import custom_pattern_rule
from tests.l0.conftest import Words


def upper_of(text: Any, context: PipelineContext) -> Any:
    return Words(str(text).upper())


def exclaim(text: Any, context: PipelineContext) -> Any:
    return {"stream": Words(f"{text}!"), "retry": None}


def test_each_output_feeds_the_next_step(on_backends: Any) -> None:
    async def main() -> Any:
        return await pipe([Step("upper", upper_of), Step("exclaim", exclaim)], "hello")

    result = on_backends(main)
    assert (result.status, result.output, result.error) == ("success", "HELLO!", None)
    assert [(step.name, step.input, step.output) for step in result.steps] == [
        ("upper", "hello", "HELLO"), ("exclaim", "HELLO", "HELLO!")]
    assert all(isinstance(step.result, L0Result) for step in result.steps)
    assert result.cost_usd is None and result.duration > 0


def test_a_step_guardrail_is_honoured_not_ignored(on_backends: Any) -> None:
    def generate(text: Any, context: PipelineContext) -> Any:
        return {"stream": Words("this is BAD output"), "retry": None,
                "guardrails": [custom_pattern_rule([r"\bBAD\b"], "bad word", "fatal")]}

    async def main() -> Any:
        return await pipe([Step("generate", generate), Step("after", exclaim)], "go")

    result = on_backends(main)
    assert result.status == "error"
    assert isinstance(result.error, L0GuardrailError)
    [step] = result.steps  # stop_on_error: the next step never ran
    assert step.status == "error" and step.output == "go"


def test_every_callback_is_awaited(on_backends: Any) -> None:
    done: list[str] = []

    async def slow_note(note: str) -> None:
        await anyio.sleep(0.01)
        done.append(note)

    async def transform(result: Any, context: PipelineContext) -> str:
        await slow_note("transform")
        assert isinstance(result, L0Result)
        return result.state.content + "?"

    async def condition(text: Any, context: PipelineContext) -> bool:
        await slow_note("condition")
        return True

    async def on_error(error: BaseException, context: PipelineContext) -> None:
        await slow_note(f"on_error:{type(error).__name__}")

    async def on_step(step: StepResult, context: PipelineContext) -> None:
        await slow_note(f"on_step:{step.name}")

    async def fn(text: Any, context: PipelineContext) -> Any:
        await slow_note("fn")
        return Words(str(text))

    failing = Step("failing", lambda text, context: Words(ValueError("broken")),
                   on_error=on_error)

    async def main() -> Any:
        return await pipe([Step("first", fn, transform=transform, condition=condition),
                           failing], "x", on_step=on_step, retry=None)

    result = on_backends(main)
    assert result.steps[0].output == "x?"
    assert done == ["condition", "fn", "transform", "on_step:first", "on_error:ValueError",
                    "on_step:failing"]


def test_false_condition_skips_and_passes_input_through(on_backends: Any) -> None:
    async def main() -> Any:
        return await pipe([Step("skip", upper_of, condition=lambda text, ctx: False),
                           Step("exclaim", exclaim)], "quiet")

    result = on_backends(main)
    assert [step.status for step in result.steps] == ["skipped", "success"]
    assert result.output == "quiet!"


def test_branch_runs_the_matching_step(on_backends: Any) -> None:
    step = branch("shout-or-not", lambda text, ctx: text.startswith("!"),
                  Step("shout", upper_of), Step("keep", exclaim))
    optional = branch("only-short", lambda text, ctx: len(text) < 3, Step("up", upper_of))

    async def main() -> tuple[Any, Any, Any]:
        return (await pipe([step], "!hey"), await pipe([step], "hey"),
                await pipe([optional], "long text"))

    shouted, kept, skipped = on_backends(main)
    assert shouted.output == "!HEY" and kept.output == "hey!"
    assert skipped.steps[0].status == "skipped" and skipped.output == "long text"


def test_without_stop_on_error_the_pipeline_goes_on(on_backends: Any) -> None:
    broken = Step("broken", lambda text, ctx: Words(ValueError("no")))

    async def main() -> Any:
        return await pipe([broken, Step("exclaim", exclaim)], "on", stop_on_error=False,
                          retry=None)

    result = on_backends(main)
    assert [step.status for step in result.steps] == ["error", "success"]
    assert result.output == "on!" and result.status == "error"


def test_create_pipeline_reuses_steps_and_defaults(on_backends: Any) -> None:
    seen: list[L0LifecycleEvent] = []
    pipeline = create_pipeline([Step("upper", upper_of)], on_event=seen.append)

    async def main() -> tuple[Any, Any]:
        return await pipeline.run("a"), await pipeline.run("b")

    first, second = on_backends(main)
    assert (first.output, second.output) == ("A", "B")
    steps = [event for event in seen if event.type == "pipeline_step"]
    assert [event.data["name"] for event in steps] == ["upper", "upper"]
    with pytest.raises(TypeError, match="Step objects"):
        create_pipeline([upper_of])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="at least one step"):
        create_pipeline([])


def test_a_step_whose_fn_raises_fails_that_step(on_backends: Any) -> None:
    errors: list[str] = []

    def broken(text: Any, context: PipelineContext) -> Any:
        raise RuntimeError("cannot build the prompt")

    async def main() -> Any:
        return await pipe([Step("broken", broken,
                                on_error=lambda error, ctx: errors.append(str(error)))], "in")

    result = on_backends(main)
    assert result.status == "error" and isinstance(result.error, RuntimeError)
    assert errors == ["cannot build the prompt"] and result.output == "in"
