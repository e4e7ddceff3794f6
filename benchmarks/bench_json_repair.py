"""JSON repair on the broken-JSON corpus: cascadeflow, json-repair and ai2070-l0 side by side."""

from __future__ import annotations

import json

from benchmarks._report import ROOT, figure, header, run_peer

CORPUS = ROOT / "tests" / "data" / "broken_json.jsonl"


def ours() -> tuple[int, int, int, int]:
    from cascadeflow.l0.auto_correct import auto_correct_json

    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    correct = valid_kept = valid_total = 0
    for row in rows:
        result = auto_correct_json(row["input"])
        if row["correctable"]:
            ok = result.valid and json.loads(result.text) == row["expected"]
        else:
            ok = not result.valid
        correct += ok
        if row["kind"] == "valid":
            valid_total += 1
            valid_kept += result.text == row["input"]
    return correct, len(rows), valid_kept, valid_total


def main() -> None:
    header("L0 JSON auto-correction on the broken-JSON corpus (repaired and correct)")
    correct, total, kept, valid_total = ours()
    peers = json.loads(run_peer("l0_guardrails.py", "repair", str(CORPUS)))
    share = correct / total * 100
    jr = peers["json_repair"]["correct"] / total * 100
    ai = peers["ai2070_l0"]["correct"] / total * 100
    figure(f"auto_correct_json, {total} cases", share, "%", ">= both peers",
           ok=share >= jr and share >= ai, peer=f"json-repair {jr:.1f}%  ai2070-l0 {ai:.1f}%")
    figure("valid documents returned untouched", kept / valid_total * 100, "%", "100%",
           ok=kept == valid_total,
           peer=(f"json-repair {peers['json_repair']['valid_kept']}/{valid_total}  "
                 f"ai2070-l0 {peers['ai2070_l0']['valid_kept']}/{valid_total} kept the value"))


if __name__ == "__main__":
    main()
