"""Structured output from a LiteLLM stream, offline: a fenced, truncated answer becomes a model.

Run: LITELLM_LOCAL_MODEL_COST_MAP=True python examples/l0_structured.py
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from pydantic import BaseModel

from cascadeflow.l0 import structured

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


class Person(BaseModel):
    name: str
    age: int
    languages: list[str]


# What models often send: a fence, a trailing comma, and the answer cut off mid-array.
ANSWER = '```json\n{"name": "Ada", "age": 36, "languages": ["en", "fr",'


async def main() -> None:
    import litellm

    async def stream() -> Any:
        return await litellm.acompletion(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Who is Ada?"}],
            stream=True, mock_response=ANSWER)

    result = await structured(Person, stream)
    print(result.data)
    print("repaired:", result.corrected, result.corrections)


if __name__ == "__main__":
    asyncio.run(main())
