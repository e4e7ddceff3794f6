"""ai2070-l0 and json-repair measured in .venv-peers; prints JSON to stdout.

usage: l0_guardrails.py stream <tokens> | repair <corpus.jsonl>
       | precision <ordinary.jsonl> <bad.jsonl>
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

TEXT = ("The service streams tokens to the client while the model writes its answer "
        "about **formatting**, tables and code.")
WORDS = TEXT.split(" ")


def tokens(count: int) -> list[str]:
    return [WORDS[i % len(WORDS)] + " " for i in range(count)]


async def stream_rate(count: int) -> dict[str, Any]:
    from types import SimpleNamespace

    import l0

    # ai2070-l0 reads OpenAI-shaped chunks; build them before timing.
    chunks = [SimpleNamespace(choices=[SimpleNamespace(delta=SimpleNamespace(
        content=word, tool_calls=None), finish_reason=None)], usage=None)
        for word in tokens(count)]

    async def source():  # type: ignore[no-untyped-def]
        for chunk in chunks:
            yield chunk

    start = time.perf_counter()
    result = await l0.run(lambda: source(), guardrails=l0.Guardrails.recommended(),
                          adapter="openai")
    text = await result.read()
    seconds = time.perf_counter() - start
    return {"tokens": count, "seconds": seconds, "chars": len(text)}


def repair_scores(path: str) -> dict[str, Any]:
    import json_repair
    from l0._utils import auto_correct_json

    with open(path, encoding="utf-8") as corpus:
        rows = [json.loads(line) for line in corpus]
    out: dict[str, list[bool]] = {"json_repair": [], "ai2070_l0": []}
    valid_kept: dict[str, list[bool]] = {"json_repair": [], "ai2070_l0": []}
    for row in rows:
        for name in out:
            try:
                if name == "json_repair":
                    text = json_repair.repair_json(row["input"])
                    ok_text = text not in ("", '""')
                else:
                    fixed = auto_correct_json(row["input"])
                    text, ok_text = fixed.text, fixed.success
                value = json.loads(text) if ok_text else None
                ok = (ok_text and value == row["expected"]) if row["correctable"] else not ok_text
            except Exception:
                ok, value = (not row["correctable"]), None
            out[name].append(bool(ok))
            if row["kind"] == "valid":
                valid_kept[name].append(value == row["expected"])
    return {name: {"correct": sum(v), "total": len(v),
                   "valid_kept": sum(valid_kept[name]), "valid_total": len(valid_kept[name])}
            for name, v in out.items()}


def precision(ordinary_path: str, bad_path: str) -> dict[str, Any]:
    """ai2070-l0's recommended guardrails on the completed texts of both corpora."""
    from l0 import guardrails

    def flags(text: str) -> tuple[bool, bool]:
        context = guardrails.GuardrailContext(content=text, completed=True)
        violations = guardrails.check_guardrails(context, guardrails.recommended_guardrails())
        return any(v.severity != "warning" for v in violations), bool(violations)

    counts = {"false_errors": 0, "any_flag": 0, "caught": 0}
    with open(ordinary_path, encoding="utf-8") as ordinary:
        texts = [json.loads(line)["text"] for line in ordinary]
    for text in texts:
        error, anything = flags(text)
        counts["false_errors"] += error
        counts["any_flag"] += anything
    with open(bad_path, encoding="utf-8") as bad:
        bad_texts = [json.loads(line)["text"] for line in bad]
    counts["caught"] = sum(flags(text)[0] for text in bad_texts)
    return {**counts, "ordinary": len(texts), "bad": len(bad_texts)}


if __name__ == "__main__":
    if sys.argv[1] == "precision":
        print(json.dumps(precision(sys.argv[2], sys.argv[3])))
    elif sys.argv[1] == "stream":
        print(json.dumps(asyncio.run(stream_rate(int(sys.argv[2])))))
    else:
        print(json.dumps(repair_scores(sys.argv[2])))
