"""Content guardrails: unwanted patterns, empty output, repetition and stalls."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence

from cascadeflow.l0.guardrails._context import MatchJudge
from cascadeflow.l0.guardrails._patterns import CATEGORIES, LONGEST_MATCH, OPENING_ONLY
from cascadeflow.l0.guardrails._scan import IncrementalSearch
from cascadeflow.l0.guardrails._types import GuardrailContext, GuardrailViolation, Severity

_OPENING_LENGTH = 120


class PatternRule:
    """Finds the common unwanted-output categories (see :func:`pattern_rule`)."""

    streaming = True

    def __init__(self, categories: Iterable[str], severity: Severity | None,
                 *, scan_every: int = 256, name: str = "pattern") -> None:
        self.name = name
        chosen = list(categories)
        unknown = [category for category in chosen if category not in CATEGORIES]
        if unknown:
            raise ValueError(f"unknown pattern categories {unknown}; known: {list(CATEGORIES)}")
        self._categories = {name: CATEGORIES[name] for name in chosen}
        self._severity_override = severity
        worst: Severity = "warning"
        for category in self._categories.values():
            if _RANK[category.severity] > _RANK[worst]:
                worst = category.severity
        self.severity: Severity = severity or worst
        body = [name for name in chosen if name not in OPENING_ONLY]
        self._search = (IncrementalSearch(_alternation(body, grouped=False), LONGEST_MATCH,
                                          scan_every) if body else None)
        self._body = _alternation(body, grouped=True) if body else None
        opening = [name for name in chosen if name in OPENING_ONLY]
        self._opening = _alternation(opening, grouped=True) if opening else None
        self._judge = MatchJudge(self._categories)
        self.reset()

    def reset(self) -> None:
        if self._search is not None:
            self._search.reset()
        self._opening_checked = self._opening is None
        self._judge.reset()
        self._waiting: list[tuple[str, int, int, str]] = []  # category, start, end, text

    def _violation(self, category: str, start: int, text: str,
                   doubtful: bool = False) -> GuardrailViolation:
        info = self._categories[category]
        severity: Severity = "warning" if doubtful else (self._severity_override
                                                         or info.severity)
        return GuardrailViolation(
            self.name, f"{info.message}: {text.strip()!r}", severity, info.recoverable, start,
            info.suggestion)

    def _judge_waiting(self, content: str, completed: bool,
                       found: list[GuardrailViolation]) -> None:
        still: list[tuple[str, int, int, str]] = []
        for category, start, end, text in self._waiting:
            verdict = self._judge.verdict(self._categories[category], content, start, end,
                                          completed)
            if verdict == "wait":
                still.append((category, start, end, text))
            elif verdict != "ignore":
                found.append(self._violation(category, start, text, verdict == "warn"))
        self._waiting = still

    def check(self, context: GuardrailContext) -> list[GuardrailViolation]:
        content = context.content
        found: list[GuardrailViolation] = []
        if not self._opening_checked and (
                context.completed or len(content) >= _OPENING_LENGTH or "\n" in content):
            self._opening_checked = True
            match = self._opening.match(content, 0, _OPENING_LENGTH) if self._opening else None
            if match is not None and match.lastgroup is not None:
                found.append(self._violation(match.lastgroup, match.start(), match.group()))
        if self._search is None or self._body is None:
            return found
        for match in self._search.matches(content, context.completed):
            # The ungrouped pattern is the fast one; name the category only on a hit.
            named = self._body.match(content, match.start(), match.end())
            if named is None or named.lastgroup is None:
                continue
            category = self._categories[named.lastgroup]
            if self._judge.placement(category, content, match.start()):
                self._waiting.append((category.name, match.start(), match.end(), match.group()))
        if self._waiting:
            self._judge_waiting(content, context.completed, found)
        return found


_RANK: dict[Severity, int] = {"warning": 0, "error": 1, "fatal": 2}


def _alternation(categories: Sequence[str], *, grouped: bool) -> re.Pattern[str]:
    """One regex for several categories.

    Grouped, each category is a named group (to tell which matched). Ungrouped, the
    patterns that start at a word boundary share one ``(?<!\\w)`` guard, which makes the
    scan about twice as fast; used to find matches, which are then named by the grouped one.
    """
    if grouped:
        groups = (f"(?P<{name}>{'|'.join(CATEGORIES[name].patterns)})" for name in categories)
        return re.compile("|".join(groups), re.IGNORECASE)
    patterns = [pattern for name in categories for pattern in CATEGORIES[name].patterns]
    words = [p.removeprefix(r"\b") for p in patterns if p.startswith(r"\b")]
    others = [p for p in patterns if not p.startswith(r"\b")]
    parts = ([rf"(?<!\w)(?:{'|'.join(words)})"] if words else []) + others
    return re.compile("|".join(parts), re.IGNORECASE)


class CustomPatternRule:
    """Reports matches of the caller's patterns (see :func:`custom_pattern_rule`)."""

    streaming = True

    def __init__(self, patterns: Sequence[str | re.Pattern[str]], message: str,
                 severity: Severity, *, name: str, recoverable: bool,
                 max_match_length: int, scan_every: int) -> None:
        if not patterns:
            raise ValueError("custom_pattern_rule needs at least one pattern")
        self.name = name
        self.severity: Severity = severity
        self._message = message
        self._recoverable = recoverable
        compiled = [p if isinstance(p, re.Pattern) else re.compile(p, re.IGNORECASE)
                    for p in patterns]
        self._searches = [IncrementalSearch(p, max_match_length, scan_every) for p in compiled]

    def reset(self) -> None:
        for search in self._searches:
            search.reset()

    def check(self, context: GuardrailContext) -> list[GuardrailViolation]:
        found: list[GuardrailViolation] = []
        for search in self._searches:
            for match in search.matches(context.content, context.completed):
                found.append(GuardrailViolation(
                    self.name, f"{self._message}: {match.group()!r}", self.severity,
                    self._recoverable, match.start(), None))
        return found


_NOISE = re.compile(r"[\W_]+")


class ZeroOutputRule:
    """Rejects empty, blank or noise-only output at completion (see :func:`zero_output_rule`)."""

    streaming = False

    def __init__(self, severity: Severity = "error", *, name: str = "zero-output") -> None:
        self.name = name
        self.severity: Severity = severity

    def check(self, context: GuardrailContext) -> list[GuardrailViolation]:
        if not context.completed:
            return []
        stripped = context.content.strip()
        if not stripped:
            problem = "empty output" if not context.content else "whitespace-only output"
        elif _NOISE.fullmatch(stripped) or (len(stripped) > 3 and len(set(stripped)) == 1):
            problem = f"noise-only output: {stripped[:40]!r}"
        else:
            return []
        return [GuardrailViolation(self.name, problem, self.severity, True, 0, "retry")]


_SENTENCE_END = re.compile(r"[.!?\n]+")
_SPACES = re.compile(r"\s+")


class RepetitionRule:
    """Detects a model looping (see :func:`repetition_rule`)."""

    streaming = True

    def __init__(self, *, sentence_repeats: int, min_sentence_length: int, window: int,
                 probe_length: int, probe_repeats: int, severity: Severity,
                 name: str = "repetition") -> None:
        self.name = name
        self.severity: Severity = severity
        self._sentence_repeats = sentence_repeats
        self._min_sentence_length = min_sentence_length
        self._window = window
        self._probe_length = probe_length
        self._probe_repeats = probe_repeats
        self.reset()

    def reset(self) -> None:
        self._seen = 0
        self._sentence_start = 0
        self._counts: dict[str, int] = {}
        self._loop_reported = False

    def check(self, context: GuardrailContext) -> list[GuardrailViolation]:
        content = context.content
        if len(content) < self._seen:
            self.reset()
        found: list[GuardrailViolation] = []
        resume = len(content)
        for end in _SENTENCE_END.finditer(content, self._seen):
            if end.end() == len(content) and not context.completed:
                resume = end.start()  # the run of punctuation may go on: read it again
                break
            self._count_sentence(content, self._sentence_start, end.start(), found)
            self._sentence_start = end.end()
        self._seen = resume
        if context.completed and self._sentence_start < len(content):
            self._count_sentence(content, self._sentence_start, len(content), found)
            self._sentence_start = len(content)
        if not self._loop_reported and len(content) >= self._window:
            self._check_loop(content, found)
        return found

    def _count_sentence(self, content: str, start: int, end: int,
                        found: list[GuardrailViolation]) -> None:
        if end - start < self._min_sentence_length:
            return
        sentence = _SPACES.sub(" ", content[start:end].strip().lower())
        if len(sentence) < self._min_sentence_length:
            return
        count = self._counts.get(sentence, 0) + 1
        self._counts[sentence] = count
        if count == self._sentence_repeats:
            found.append(GuardrailViolation(
                self.name, f"sentence repeated {count} times: {sentence[:60]!r}",
                self.severity, True, start, "retry; the model is looping"))

    def _check_loop(self, content: str, found: list[GuardrailViolation]) -> None:
        # Looping means the tail is periodic: find the previous occurrence of the last few
        # characters, and see whether that period repeats back ``probe_repeats`` times.
        # Every step looks at the last ``window`` characters only.
        end = len(content)
        probe = content[end - self._probe_length:]
        if len(set(probe.replace(" ", ""))) < 3:
            return
        previous = content.rfind(probe, end - self._window, end - 1)
        if previous == -1:
            return
        period = end - self._probe_length - previous
        span = period * self._probe_repeats
        if span > self._window:
            return
        unit = content[end - period:]
        if content[end - span:] == unit * self._probe_repeats:
            self._loop_reported = True
            found.append(GuardrailViolation(
                self.name, f"the output repeats the same {period} characters "
                f"{self._probe_repeats} times: {unit[:60]!r}", self.severity, True,
                end - span, "retry; the model is looping"))


class StallRule:
    """Warns when tokens stop arriving for a while (see :func:`stall_rule`)."""

    streaming = True
    severity: Severity = "warning"

    def __init__(self, max_gap: float, clock: Callable[[], float], *,
                 name: str = "stall") -> None:
        self.name = name
        self._max_gap = max_gap
        self._clock = clock
        self._last: float | None = None

    def reset(self) -> None:
        self._last = None

    def check(self, context: GuardrailContext) -> list[GuardrailViolation]:
        now = self._clock()
        last, self._last = self._last, now
        if last is None or context.completed or now - last <= self._max_gap:
            return []
        return [GuardrailViolation(
            self.name, f"tokens stalled for {now - last:.1f}s (limit {self._max_gap:g}s)",
            "warning", True, len(context.content), "check the provider; consider a timeout")]


def pattern_rule(categories: Iterable[str] | None = None,
                 severity: Severity | None = None, *, scan_every: int = 256) -> PatternRule:
    """Flag the common kinds of unwanted output.

    Categories: ``meta_commentary`` (the output speaking as an AI about itself: "As an AI
    language model, I ...", not "As an AI researcher said"; error), ``refusal`` ("I can't
    help with that", error), ``instruction_leak`` (chat-template tokens such as ``[INST]``
    or ``<|im_start|>``, error), ``placeholders`` (``[INSERT NAME]``, ``[Your Name]``,
    ``{{name}}``, error) and ``hedging`` (filler such as "Sure!" opening the output,
    warning). All are on by default.

    Matches are judged in context: none counts inside inline code or a fenced block;
    meta commentary, refusals and leak tokens inside double quotes are quotations; a
    refusal after "says", "such as", ... is reported speech; a placeholder in a paragraph
    that explains a template language or a form ("Use {{ user.name }} in the Jinja
    template") is ignored, and one in a table row is only a warning; leak tokens in text
    about chat formats ("the <|im_start|> tokens") are only warnings. A placeholder or
    leak token is judged once its paragraph is complete (or 300 characters later).
    ``severity`` overrides every category's severity for the matches that count; doubtful
    matches stay warnings. Matches are found once each, scanning only new text, in batches
    of at least ``scan_every`` characters while streaming (and everything left at
    completion).

    Example:
        >>> from cascadeflow.l0.guardrails import GuardrailContext
        >>> rule = pattern_rule(["refusal"])
        >>> rule.check(GuardrailContext("Sorry, I can't help with that.", completed=True))[0].rule
        'pattern'
    """
    return PatternRule(CATEGORIES if categories is None else categories, severity,
                       scan_every=scan_every)


def custom_pattern_rule(patterns: Sequence[str | re.Pattern[str]],
                        message: str = "unwanted pattern", severity: Severity = "error", *,
                        name: str = "custom-pattern", recoverable: bool = True,
                        max_match_length: int = 200,
                        scan_every: int = 32) -> CustomPatternRule:
    """Flag every match of your own regexes, while streaming and at completion.

    String patterns are compiled case-insensitively; pass compiled patterns to choose the
    flags. A match must not be longer than ``max_match_length`` characters (the overlap
    kept between incremental scans). With ``severity="fatal"`` a match stops the stream at
    once, without retry. While streaming, scans wait for ``scan_every`` new characters.

    Example:
        >>> from cascadeflow.l0.guardrails import GuardrailContext
        >>> rule = custom_pattern_rule([r"\\bpassword\\b"], "secret leaked", "fatal")
        >>> rule.check(GuardrailContext("the password is", completed=True))[0].severity
        'fatal'
    """
    return CustomPatternRule(patterns, message, severity, name=name, recoverable=recoverable,
                             max_match_length=max_match_length, scan_every=scan_every)


def zero_output_rule(severity: Severity = "error") -> ZeroOutputRule:
    """Reject empty, whitespace-only or noise-only output (only punctuation, or one
    character repeated) at completion.

    Example:
        >>> from cascadeflow.l0.guardrails import GuardrailContext
        >>> zero_output_rule().check(GuardrailContext("  \\n ", completed=True))[0].message
        'whitespace-only output'
    """
    return ZeroOutputRule(severity)


def repetition_rule(*, sentence_repeats: int = 3, min_sentence_length: int = 20,
                    window: int = 600, probe_length: int = 16, probe_repeats: int = 4,
                    severity: Severity = "error") -> RepetitionRule:
    """Detect a looping model.

    Reports a sentence (at least ``min_sentence_length`` characters, compared
    case-insensitively) seen ``sentence_repeats`` times, and output whose tail is one piece
    of text repeated ``probe_repeats`` times within the last ``window`` characters (found
    from the last ``probe_length`` characters). Each sentence is read once; the loop check
    costs the same at any length.

    Example:
        >>> from cascadeflow.l0.guardrails import GuardrailContext
        >>> text = "The cat sat on the mat today. " * 3
        >>> repetition_rule().check(GuardrailContext(text, completed=True))[0].rule
        'repetition'
    """
    return RepetitionRule(sentence_repeats=sentence_repeats,
                          min_sentence_length=min_sentence_length, window=window,
                          probe_length=probe_length, probe_repeats=probe_repeats,
                          severity=severity)


def stall_rule(max_gap: float = 5.0, *,
               clock: Callable[[], float] = time.monotonic) -> StallRule:
    """Warn when more than ``max_gap`` seconds pass between two checks with new tokens.

    A warning only: use the runtime's inter-token timeout to stop a stalled stream.
    ``clock`` is injectable for tests.

    Example:
        >>> from cascadeflow.l0.guardrails import GuardrailContext
        >>> ticks = iter([0.0, 9.0])
        >>> rule = stall_rule(5.0, clock=lambda: next(ticks))
        >>> rule.check(GuardrailContext("a")), rule.check(GuardrailContext("ab"))[0].rule
        ([], 'stall')
    """
    return StallRule(max_gap, clock)
