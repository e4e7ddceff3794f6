"""Documents of about 1 KB in the shapes models produce, for timing JSON repair."""

from __future__ import annotations

import json
from typing import Any

RECORD: dict[str, Any] = {
    "id": 1, "name": "Ada Lovelace", "email": "ada@example.com", "active": True,
    "score": 0.93, "tags": ["math", "engines"], "note": "First program, 1843",
}


def _records(count: int) -> list[dict[str, Any]]:
    return [{**RECORD, "id": index} for index in range(count)]


def timing_documents() -> list[str]:
    """Five ~1 KB answers: valid, fenced with prose, Python-style, commented, truncated."""
    value = {"people": _records(6), "total": 6}
    valid = json.dumps(value)
    python_style = repr(value).replace("'id': 3", "'id': 3,")  # single quotes, True, and a ,,
    commented = json.dumps(value, indent=1).replace('"total": 6', "// the count\n total: 6,")
    return [
        valid,
        f"Here is the data:\n```json\n{valid}\n```\nAnything else?",
        python_style,
        commented,
        valid[: len(valid) * 3 // 4],
    ]
