"""Writes the guardrail corpora: ordinary answers (to let through) and bad outputs (to catch).

``guardrail_ordinary.jsonl`` and ``guardrail_bad.jsonl`` hold ``{"name", "kind", "set",
"text"}`` rows made from guardrail_ordinary_cases.py and guardrail_bad_cases.py (``set``
"tuning": written before the rules were tuned, and looked at while tuning them) and from
guardrail_held_out_cases.py (``set`` "held_out": written after the rules were final; two
fixes followed it; ``set`` "held_out_2" and "held_out_3": written after those fixes, never
tuned against).
Run it again after editing: ``python tests/data/make_guardrail_corpus.py``.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from guardrail_bad_cases import BAD
from guardrail_held_out_cases import (
    HELD_OUT_2_BAD,
    HELD_OUT_2_ORDINARY,
    HELD_OUT_3_BAD,
    HELD_OUT_3_ORDINARY,
    HELD_OUT_BAD,
    HELD_OUT_ORDINARY,
)
from guardrail_ordinary_cases import ORDINARY

Cases = list[tuple[str, str]]


def rows(cases: Cases, *held_out: Cases) -> list[dict[str, str]]:
    numbered: Counter[str] = Counter()
    out = []
    subsets = ["tuning", "held_out", "held_out_2", "held_out_3"]
    for subset, group in zip(subsets, (cases, *held_out), strict=True):
        for kind, text in group:
            numbered[kind] += 1
            out.append({"name": f"{kind}/{numbered[kind]}", "kind": kind, "set": subset,
                        "text": text})
    return out


if __name__ == "__main__":
    here = Path(__file__).parent
    for filename, *groups in (
            ("guardrail_ordinary.jsonl", ORDINARY, HELD_OUT_ORDINARY, HELD_OUT_2_ORDINARY,
             HELD_OUT_3_ORDINARY),
            ("guardrail_bad.jsonl", BAD, HELD_OUT_BAD, HELD_OUT_2_BAD, HELD_OUT_3_BAD)):
        texts = [text for group in groups for _, text in group]
        duplicates = sorted({text for text in texts if texts.count(text) > 1})
        assert not duplicates, f"duplicate cases: {duplicates}"
        with (here / filename).open("w", encoding="utf-8") as out:
            for row in rows(*groups):
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"wrote {len(texts)} cases to {filename}")
