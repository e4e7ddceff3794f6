"""The run's live state (:class:`L0State`) and the runtime state machine.

Text is kept as a list of token strings and joined only when someone reads it, so the
per-token cost stays constant however long the output grows.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from cascadeflow.l0._errors import L0StateError


class L0State:
    """What a run has produced so far, updated as tokens arrive.

    ``content`` is the text of the current attempt (after the run: of the attempt that
    finished; with continuation it starts with the checkpoint it resumed from).
    ``checkpoint`` is the last content that passed the checks, saved every
    ``CheckIntervals.checkpoint`` tokens. Times are ``time.monotonic()`` readings;
    ``duration`` is in seconds.

    Example:
        >>> result = await l0(factory)
        >>> await result.text()
        >>> result.state.completed, result.state.token_count
        (True, 12)
    """

    __slots__ = (
        "_checkpoint_cache",
        "_checkpoint_parts",
        "_content_cache",
        "_lazy_checkpoint_every",
        "_parts",
        "_prefix_parts",
        "aborted",
        "completed",
        "drift_detected",
        "duration",
        "fallback_index",
        "first_token_at",
        "last_token_at",
        "model_retry_count",
        "network_retry_count",
        "resumed",
        "tool_calls",
        "usage",
        "violations",
    )

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._content_cache: tuple[int, str] = (0, "")
        self._checkpoint_parts = 0
        self._checkpoint_cache: tuple[int, str] = (0, "")
        self._prefix_parts = 0
        # When nothing checks the text, a checkpoint is simply every N-th token: it is
        # worked out when read instead of being saved by the runtime every N tokens.
        self._lazy_checkpoint_every = 0
        self.model_retry_count = 0
        self.network_retry_count = 0
        self.fallback_index = 0
        self.violations: list[Any] = []
        self.drift_detected = False
        self.completed = False
        self.aborted = False
        self.first_token_at: float | None = None
        self.last_token_at: float | None = None
        self.duration: float | None = None
        self.resumed = False
        self.tool_calls: list[dict[str, Any]] = []
        self.usage: dict[str, Any] | None = None

    @property
    def token_count(self) -> int:
        """Tokens received in the current attempt (a resumed checkpoint does not count)."""
        return len(self._parts) - self._prefix_parts

    @property
    def content(self) -> str:
        """The current attempt's text (joined on demand, cached until it grows)."""
        parts = self._parts
        cached_len, cached = self._content_cache
        size = len(parts)
        if cached_len != size:
            # Parts are only ever appended within an attempt: extend the cached text by the
            # new parts instead of joining everything again (checks read the content every
            # few tokens; re-joining made a long stream quadratic). Dropping the cache's
            # reference first lets CPython grow the string in place.
            self._content_cache = (0, "")
            cached += "".join(parts[cached_len:])
            self._content_cache = (size, cached)
        return cached

    @property
    def checkpoint(self) -> str:
        """The last saved good content ("" before the first checkpoint)."""
        every = self._lazy_checkpoint_every
        if every:
            prefix = self._prefix_parts
            self._checkpoint_parts = prefix + (len(self._parts) - prefix) // every * every
        count, cached = self._checkpoint_cache
        if count != self._checkpoint_parts:
            cached = "".join(self._parts[: self._checkpoint_parts])
            self._checkpoint_cache = (self._checkpoint_parts, cached)
        return cached

    def _save_checkpoint(self) -> None:
        self._checkpoint_parts = len(self._parts)

    def _start_attempt(self, prefix: str) -> None:
        """Drop the failed attempt's text; keep ``prefix`` (the checkpoint) when continuing."""
        self._parts = [prefix] if prefix else []
        self._content_cache = (len(self._parts), prefix)
        self._checkpoint_parts = len(self._parts)
        self._checkpoint_cache = (self._checkpoint_parts, prefix)
        self._prefix_parts = len(self._parts)
        self._lazy_checkpoint_every = 0
        self.tool_calls = []
        self.usage = None

    def __repr__(self) -> str:
        return (
            f"L0State(tokens={self.token_count}, chars={len(self.content)}, "
            f"completed={self.completed}, aborted={self.aborted}, "
            f"fallback_index={self.fallback_index}, model_retries={self.model_retry_count}, "
            f"network_retries={self.network_retry_count})"
        )


class RuntimeState(str, Enum):
    """The phases of a run; see :class:`StateMachine` for the allowed moves."""

    PENDING = "pending"
    ACTIVE = "active"
    COMPLETING = "completing"
    COMPLETED = "completed"
    ERRORED = "errored"
    ABORTED = "aborted"


_ALLOWED: dict[RuntimeState, frozenset[RuntimeState]] = {
    RuntimeState.PENDING: frozenset(
        {RuntimeState.ACTIVE, RuntimeState.ERRORED, RuntimeState.ABORTED}
    ),
    RuntimeState.ACTIVE: frozenset(
        {RuntimeState.COMPLETING, RuntimeState.ERRORED, RuntimeState.ABORTED}
    ),
    RuntimeState.COMPLETING: frozenset(
        {RuntimeState.COMPLETED, RuntimeState.ERRORED, RuntimeState.ABORTED}
    ),
    # errored -> active is a retry or a fallback; errored stays terminal otherwise.
    RuntimeState.ERRORED: frozenset({RuntimeState.ACTIVE, RuntimeState.ABORTED}),
    RuntimeState.COMPLETED: frozenset(),
    RuntimeState.ABORTED: frozenset(),
}


class StateMachine:
    """Tracks a run's :class:`RuntimeState` and refuses transitions that make no sense.

    Example:
        >>> machine = StateMachine()
        >>> machine.transition(RuntimeState.ACTIVE)
        >>> machine.transition(RuntimeState.COMPLETING)
        >>> machine.transition(RuntimeState.COMPLETED)
        >>> machine.transition(RuntimeState.ACTIVE)
        Traceback (most recent call last):
        cascadeflow.l0._errors.L0StateError: invalid transition completed -> active
    """

    __slots__ = ("history", "state")

    def __init__(self) -> None:
        self.state = RuntimeState.PENDING
        self.history: list[RuntimeState] = [RuntimeState.PENDING]

    def can_transition(self, target: RuntimeState) -> bool:
        """Whether ``target`` is allowed from the current state."""
        return target in _ALLOWED[self.state]

    def transition(self, target: RuntimeState) -> None:
        """Move to ``target`` or raise :class:`L0StateError`."""
        if target not in _ALLOWED[self.state]:
            raise L0StateError(f"invalid transition {self.state.value} -> {target.value}")
        self.state = target
        self.history.append(target)


__all__ = ["L0State", "RuntimeState", "StateMachine"]
