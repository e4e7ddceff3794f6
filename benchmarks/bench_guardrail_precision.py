"""Guardrail precision and recall on two corpora: ordinary answers (which must pass) and bad
outputs (which must be caught), per preset, per rule, per pattern category, and for the
DriftDetector. A text counts as flagged when a violation of severity error or fatal (a
retry or a stop) is reported while it streams or at completion. ai2070-l0's recommended
preset is run on the completed texts (its pattern rule reports warnings only)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks._report import ROOT, figure, header, run_peer

DATA = ROOT / "tests" / "data"
CHUNK = 4  # characters per streamed token


def corpus(name: str) -> list[dict[str, str]]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def flagged(make_rules: Callable[[], Sequence[Any]], text: str) -> tuple[bool, bool]:
    """(an error or fatal violation, any violation) for ``text`` streamed in small chunks."""
    from cascadeflow.l0.guardrails import GuardrailEngine

    engine = GuardrailEngine(make_rules())
    engine.start()
    for end in range(CHUNK, len(text) + CHUNK, CHUNK):
        engine.check_streaming(text[:end], text[end - CHUNK:end], end // CHUNK)
    engine.check_complete(text, len(text) // CHUNK)
    violations = engine.violations
    return any(v.severity != "warning" for v in violations), bool(violations)


def rates(make_rules: Callable[[], Sequence[Any]], ordinary: list[dict[str, str]],
          bad: list[dict[str, str]]) -> tuple[float, float, float]:
    """(% of ordinary answers flagged as errors, % flagged at all, % of bad outputs caught)."""
    errors = warned = caught = 0
    for case in ordinary:
        error, anything = flagged(make_rules, case["text"])
        errors += error
        warned += anything
    for case in bad:
        caught += flagged(make_rules, case["text"])[0]
    return (errors / len(ordinary) * 100, warned / len(ordinary) * 100,
            caught / len(bad) * 100 if bad else float("nan"))


def drift_rates(ordinary: list[dict[str, str]],
                bad: list[dict[str, str]]) -> tuple[float, float, float]:
    """DriftDetector: (% ordinary detected, % bad detected, % meta commentary detected)."""
    from cascadeflow.l0.drift import DriftDetector

    def detected(text: str) -> bool:
        detector = DriftDetector()
        hits = [detector.check(text[:end]).detected
                for end in range(CHUNK, len(text) + CHUNK, CHUNK)]
        return any(hits)

    meta = [case for case in bad if case["kind"] == "meta_commentary"]
    return (sum(detected(c["text"]) for c in ordinary) / len(ordinary) * 100,
            sum(detected(c["text"]) for c in bad) / len(bad) * 100,
            sum(detected(c["text"]) for c in meta) / len(meta) * 100)


def main() -> None:
    from cascadeflow.l0 import guardrails

    ordinary = corpus("guardrail_ordinary.jsonl")
    bad = corpus("guardrail_bad.jsonl")
    header(f"L0 guardrails: precision on {len(ordinary)} ordinary answers, recall on "
           f"{len(bad)} bad outputs")
    peer = json.loads(run_peer("l0_guardrails.py", "precision",
                               str(DATA / "guardrail_ordinary.jsonl"),
                               str(DATA / "guardrail_bad.jsonl")))
    for preset in ("minimal", "recommended", "strict"):
        make = getattr(guardrails, preset)
        false_errors, any_flag, recall = rates(make, ordinary, bad)
        is_target = preset == "recommended"
        peer_errors = peer_recall = ""
        if is_target:
            peer_errors = (f"  ai2070-l0 recommended {peer['false_errors'] / peer['ordinary']:.1%}"
                           f" (any flag {peer['any_flag'] / peer['ordinary']:.1%})")
            peer_recall = f"ai2070-l0 recommended {peer['caught'] / peer['bad']:.1%}"
        figure(f"{preset}(): ordinary answers flagged as errors", false_errors, "%",
               "<= 1%" if is_target else "(reported)", ok=false_errors <= 1 or not is_target,
               peer=f"any flag incl. warnings {any_flag:.1f}%{peer_errors}")
        figure(f"{preset}(): bad outputs caught", recall, "%",
               ">= 97%" if is_target else "(reported)", ok=recall >= 97 or not is_target,
               peer=peer_recall)

    sets = {"tuning": "written first, looked at while tuning",
            "held_out": "written after tuning; 2 fixes followed",
            "held_out_2": "written after those fixes, never tuned to",
            "held_out_3": "written last, never tuned to"}
    for subset, described in sets.items():
        false_errors, _, recall = rates(guardrails.recommended,
                                        [c for c in ordinary if c["set"] == subset],
                                        [c for c in bad if c["set"] == subset])
        count = sum(c["set"] == subset for c in ordinary)
        figure(f"  recommended() on the {subset} set: false errors", false_errors, "%",
               "(reported)", ok=True,
               peer=f"recall {recall:.1f}%; {count} ordinary answers, {described}")

    header("L0 guardrails: each rule (false errors on ordinary answers; recall on the bad "
           "outputs it is meant for)")
    targets: dict[str, tuple[Callable[[], Sequence[Any]], str | None]] = {
        "json_rule": (lambda: [guardrails.json_rule()], None),
        "markdown_rule": (lambda: [guardrails.markdown_rule()], "unclosed_fence"),
        "latex_rule": (lambda: [guardrails.latex_rule()], None),
        "zero_output_rule": (lambda: [guardrails.zero_output_rule()], "empty_or_noise"),
        "repetition_rule": (lambda: [guardrails.repetition_rule()], None),
    }
    for category, kind in (("meta_commentary", "meta_commentary"), ("refusal", "refusal"),
                           ("instruction_leak", "instruction_leak"),
                           ("placeholders", "placeholder"), ("hedging", None)):
        targets[f"pattern_rule[{category}]"] = (
            lambda category=category: [guardrails.pattern_rule([category])], kind)
    for name, (make, kind) in targets.items():
        meant = [case for case in bad if case["kind"] == kind]
        false_errors, any_flag, recall = rates(make, ordinary, meant)
        recall_text = (f"recall {recall:.1f}% of {len(meant)} {kind}" if meant
                       else "no bad outputs of its kind")
        figure(f"{name}: false errors", false_errors, "%", "<= 1%", ok=false_errors <= 1,
               peer=f"any flag {any_flag:.1f}%  {recall_text}")

    header("L0 DriftDetector (default min_confidence) on the same corpora")
    false_drift, bad_drift, meta_drift = drift_rates(ordinary, bad)
    figure("ordinary answers detected as drift", false_drift, "%", "<= 1%",
           ok=false_drift <= 1)
    figure("meta-commentary outputs detected", meta_drift, "%", ">= 97%", ok=meta_drift >= 97,
           peer=f"all bad outputs {bad_drift:.1f}% (drift is not meant for refusals, "
                "leaks, placeholders)")


if __name__ == "__main__":
    main()
