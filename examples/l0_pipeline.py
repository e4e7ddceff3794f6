"""A pipeline: summarise, then translate, with a guardrail on the second step, offline.

Each step returns ``l0()`` options (here a guarded LiteLLM stream and a guardrail), so
retries, fallbacks and guardrails apply per step; the result has each step's cost.
Run: ``.venv/bin/python examples/l0_pipeline.py``
"""

from __future__ import annotations

import asyncio
import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from cascadeflow.integrations.litellm import acompletion  # after the switch above
from cascadeflow.l0 import Step, branch, create_pipeline
from cascadeflow.l0.guardrails import custom_pattern_rule
from cascadeflow.telemetry import CostTracker

tracker = CostTracker()
NO_PLACEHOLDERS = custom_pattern_rule([r"\[TODO\]"], "unfinished output", "fatal")


def stream(model: str, prompt: str, answer: str):
    async def factory():
        return await acompletion(model=model, user="di", stream=True, tracker=tracker,
                                 messages=[{"role": "user", "content": prompt}],
                                 mock_response=answer)
    return factory


def summarise(text, context):
    return stream("gpt-4o-mini", f"Summarise: {text}", "Streams fail; L0 retries them.")


def translate(summary, context):
    return {"stream": stream("gpt-4o", f"Translate: {summary}",
                             "Les flux échouent ; L0 les relance."),
            "guardrails": [NO_PLACEHOLDERS], "retry": None}


def unfinished(summary, context):
    return {"stream": stream("gpt-4o", "Translate", "[TODO] translate this"),
            "guardrails": [NO_PLACEHOLDERS], "retry": None}


async def log_step(step, context) -> None:  # awaited after every step
    cost = f"${step.cost_usd:.6f}" if step.cost_usd is not None else "-"
    print(f"  step {step.name:<10} {step.status:<8} {cost}  -> {step.output!r}")


async def main() -> None:
    article = "A long article about unreliable LLM streams. " * 20
    pipeline = create_pipeline([Step("summarise", summarise), Step("translate", translate)],
                               on_step=log_step)
    done = await pipeline.run(article)
    print(f"output: {done.output!r}; cost ${done.cost_usd:.6f}")

    french_only = branch("maybe-translate", lambda text, ctx: "L0" in text,
                         Step("bad-translate", unfinished))
    stopped = await create_pipeline([Step("summarise", summarise), french_only],
                                    on_step=log_step).run(article)
    print(f"guardrail: {stopped.status}: {type(stopped.error).__name__}")

    ledger = sum(entry.cost for entry in tracker.get_entries_by_user("di"))
    print(f"both pipelines cost ${done.cost_usd + stopped.cost_usd:.6f}; ledger ${ledger:.6f}")
    assert stopped.status == "error" and done.output.startswith("Les flux")


if __name__ == "__main__":
    asyncio.run(main())
