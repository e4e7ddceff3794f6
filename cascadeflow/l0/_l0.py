"""``l0()``: the one entry point that wraps a stream factory in the L0 runtime."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import anyio

from cascadeflow.l0._result import (
    _DEFAULT_RETRY,
    _DEFAULT_TIMEOUT,
    L0Options,
    L0Result,
    StreamFactory,
)
from cascadeflow.l0._retry import RetryConfig
from cascadeflow.l0._runtime import _Run
from cascadeflow.l0._types import CheckIntervals, TimeoutConfig

if TYPE_CHECKING:
    from cascadeflow.l0._events import L0LifecycleEvent
    from cascadeflow.l0._meter import AttemptMeter
    from cascadeflow.l0.adapters import L0Adapter


async def l0(
    stream: StreamFactory,
    *,
    fallback_streams: Sequence[StreamFactory] = (),
    retry: RetryConfig | None = _DEFAULT_RETRY,
    timeout: TimeoutConfig | None = _DEFAULT_TIMEOUT,
    guardrails: Any = (),
    check_intervals: CheckIntervals | None = None,
    continue_from_checkpoint: bool = False,
    build_continuation: Callable[[str], Any] | None = None,
    on_event: Callable[[L0LifecycleEvent], Any] | None = None,
    signal: Any = None,
    context: Mapping[str, Any] | None = None,
    adapter: L0Adapter | str | None = None,
    drift: Any = None,
    retry_on_drift: bool = True,
    sleep: Callable[[float], Awaitable[Any]] = anyio.sleep,
    budget: AttemptMeter | None = None,
) -> L0Result:
    """Wrap a token stream so that it retries, falls back, resumes, times out and reports.

    ``stream`` and each of ``fallback_streams`` is a factory returning an async iterable
    (or an awaitable of one, or an async context manager such as Anthropic's
    ``messages.stream()``); it is called again for every retry. A factory that takes one
    positional argument receives ``None`` on a fresh attempt and, with
    ``continue_from_checkpoint=True``, ``build_continuation(checkpoint)`` (by default the
    checkpoint text) when continuing.

    - ``retry``: a :class:`RetryConfig`; ``None`` means no retries at all.
    - ``timeout``: initial-token and inter-token deadlines (on by default); ``None`` for none.
    - ``guardrails``: rules or a ``GuardrailEngine``; checked every
      ``check_intervals.guardrails`` tokens and at the end. Fatal or non-recoverable
      violations raise ``L0GuardrailError`` at once; recoverable errors retry.
    - ``drift``: a ``DriftDetector`` (or ``True`` for the default one); with
      ``retry_on_drift`` detected drift retries as a content error.
    - ``on_event``: receives every :class:`L0LifecycleEvent`; its exceptions are logged
      once and never break the stream.
    - ``signal``: an :class:`AbortSignal` (or anything with ``is_set()``).
    - ``adapter``: an adapter or its name; detected from the stream (or its first chunk)
      when omitted.
    - ``sleep``: the coroutine used to wait between retries (tests pass a recorder).
    - ``budget``: an :class:`AttemptMeter` (e.g. ``cascadeflow.BudgetGuard``) told about
      every attempt: it may refuse one before its factory is called (the next fallback is
      tried, else its error is raised), stop a stream as tokens arrive (its error is raised
      from the iteration, the partial text stays in ``result.state.content``), and bills
      each attempt once; ``result.telemetry.cost_usd`` sums the bills.

    Nothing is requested until the result is iterated.

    Example:
        >>> async def factory():
        ...     return await client.chat.completions.create(
        ...         model="gpt-4o-mini", messages=messages, stream=True)
        >>> result = await l0(factory, fallback_streams=[backup_factory])
        >>> text = await result.text()
        >>> result.state.fallback_index, result.telemetry.retries
        (0, {})

    .. versionadded:: 0.1
    """
    options = L0Options(
        stream=stream,
        fallback_streams=tuple(fallback_streams),
        retry=retry,
        timeout=timeout,
        guardrails=guardrails,
        check_intervals=check_intervals,
        continue_from_checkpoint=continue_from_checkpoint,
        build_continuation=build_continuation,
        on_event=on_event,
        signal=signal,
        context=context,
        adapter=adapter,
        drift=drift,
        retry_on_drift=retry_on_drift,
        sleep=sleep,
        budget=budget,
    )
    return L0Result(_Run(options))


__all__ = ["l0"]
