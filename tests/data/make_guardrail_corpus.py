"""Writes the guardrail corpora: ordinary answers (to let through) and bad outputs (to catch).

``guardrail_ordinary.jsonl`` and ``guardrail_bad.jsonl`` hold ``{"name", "kind", "text"}``
rows made from guardrail_ordinary_cases.py and guardrail_bad_cases.py. Run it again after
editing: ``python tests/data/make_guardrail_corpus.py``.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from guardrail_bad_cases import BAD
from guardrail_ordinary_cases import ORDINARY


def rows(cases: list[tuple[str, str]]) -> list[dict[str, str]]:
    numbered: Counter[str] = Counter()
    out = []
    for kind, text in cases:
        numbered[kind] += 1
        out.append({"name": f"{kind}/{numbered[kind]}", "kind": kind, "text": text})
    return out


if __name__ == "__main__":
    here = Path(__file__).parent
    for filename, cases in (("guardrail_ordinary.jsonl", ORDINARY), ("guardrail_bad.jsonl", BAD)):
        texts = [text for _, text in cases]
        duplicates = sorted({text for text in texts if texts.count(text) > 1})
        assert not duplicates, f"duplicate cases: {duplicates}"
        with (here / filename).open("w", encoding="utf-8") as out:
            for row in rows(cases):
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"wrote {len(cases)} cases to {filename}")
