"""DriftDetector signals, each found incrementally."""

from __future__ import annotations

import random
import string

from cascadeflow.l0.drift import DriftDetector, DriftResult


def feed(detector: DriftDetector, text: str, size: int = 20) -> list[DriftResult]:
    content = ""
    results = []
    for start in range(0, len(text), size):
        content += text[start:start + size]
        results.append(detector.check(content, text[start:start + size]))
    return results


def kinds(results: list[DriftResult]) -> set[str]:
    return {kind for result in results if result.detected for kind in result.types}


CLEAN = ("The migration moves each table in order, copying rows in batches and checking "
         "counts after every batch so a failure can resume where it stopped. ") * 2


def test_clean_text_shows_no_drift():
    assert kinds(feed(DriftDetector(), CLEAN + CLEAN.replace("table", "index"))) == set()


def test_meta_commentary_is_detected_with_high_confidence():
    results = feed(DriftDetector(), CLEAN + "As an AI language model, I cannot verify this. ")
    hit = next(r for r in results if r.detected)
    assert hit.types == ["meta_commentary"] and hit.confidence == 0.9


def test_repetition_is_detected():
    text = "I will now explain the plan in detail. " * 4
    assert "repetition" in kinds(feed(DriftDetector(), text))


def test_entropy_spike_is_detected_against_the_streams_history():
    rng = random.Random(7)
    noise = "".join(rng.choice(string.printable[:94]) for _ in range(60))
    results = feed(DriftDetector(), CLEAN + noise)
    assert "entropy_spike" in kinds(results)


def test_tone_shift_between_blocks_is_detected():
    formal = ("Therefore the result holds; moreover the bound is tight, hence the claim "
              "follows. Furthermore it generalises. ") * 4
    informal = "yeah so we're gonna do it lol, okay dude, kinda works yep nope. " * 8
    detector = DriftDetector(block_size=400)
    assert "tone_shift" in kinds(feed(detector, formal[:400] + informal))


def test_markdown_collapse_is_detected():
    rich = "## Title\n- **one** item\n- **two** item\n- [link](http://a.b)\n" * 6
    plain = "then everything continues as plain sentences without any formatting at all " * 8
    detector = DriftDetector(block_size=200)
    assert "markdown_collapse" in kinds(feed(detector, rich[:200] + plain))


def test_format_collapse_and_hedging_are_reported_but_below_the_default_threshold():
    results = feed(DriftDetector(), "Sure! Here is the answer you wanted:\n" + CLEAN)
    types = {kind for result in results for kind in result.types}
    assert {"hedging", "format_collapse"} <= types
    assert not any(result.detected for result in results)
    strict = feed(DriftDetector(min_confidence=0.5), "Here is the answer you wanted:\n" + CLEAN)
    assert "format_collapse" in kinds(strict)


def test_reset_starts_over_and_detectors_can_be_switched_off():
    detector = DriftDetector(meta_commentary=False)
    assert kinds(feed(detector, CLEAN + "As an AI language model, I think. ")) == set()
    detector = DriftDetector()
    feed(detector, CLEAN)
    detector.reset()
    assert kinds(feed(detector, "As an AI language model, yes indeed it is so.")) == {
        "meta_commentary"}
