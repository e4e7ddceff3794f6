"""The L0 run loop: attempts, retries, fallbacks, checks and continuation around a stream.

The per-token path does as little as it can: decode the chunk, append its text, count it,
yield it (no clock read, no method call). Everything else (first token, abort, checks,
checkpoints, trimming, tool calls) runs every N tokens or on rare events, in methods off
the hot path; ``result.stream`` is this module's generator itself, with no wrapper layer.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio

from cascadeflow.l0._checks import ContentChecks
from cascadeflow.l0._classify import classify_error
from cascadeflow.l0._continuation import OverlapTrimmer, default_continuation
from cascadeflow.l0._errors import (
    L0AbortedError,
    L0DriftError,
    L0Error,
    L0ExhaustedError,
    L0GuardrailError,
    L0StreamError,
    L0TimeoutError,
)
from cascadeflow.l0._events import EventEmitter, LifecycleEventType
from cascadeflow.l0._meter import AttemptOutcome, MeteredRun
from cascadeflow.l0._result import AbortSignal, L0Options
from cascadeflow.l0._retry import RetryManager
from cascadeflow.l0._sources import (
    Entered,
    Factory,
    Prepended,
    close_source,
)
from cascadeflow.l0._state import L0State, RuntimeState, StateMachine
from cascadeflow.l0._types import CheckIntervals, L0Event, L0Telemetry, TokenEvent
from cascadeflow.l0._watchdog import DeadlineIterator, Watchdog
from cascadeflow.l0.adapters import L0Adapter, detect_adapter, get_adapter
from cascadeflow.l0.adapters._plain import PlainDecoder

_E = LifecycleEventType
_NEVER = 1 << 62


class _Run:
    """One call of ``l0()``: owns the state, the telemetry and the event generator."""

    def __init__(self, options: L0Options) -> None:
        self.options = options
        self.state = L0State()
        self.telemetry = L0Telemetry()
        self.errors: list[BaseException] = []
        self.machine = StateMachine()
        self.emitter = EventEmitter(options.on_event, options.context)
        timeout = options.timeout
        self.watchdog = Watchdog(timeout.initial_token if timeout else None,
                                 timeout.inter_token if timeout else None, self.state)
        self.intervals = options.check_intervals or CheckIntervals()
        self._checkpoint_every = self.intervals.checkpoint
        # Checkpoint events are the only frequent ones: skipped unless an observer wants them.
        self._observed = self.emitter.wants(_E.CHECKPOINT)
        self.factories = [Factory(options.stream)]
        self.factories += [Factory(f) for f in options.fallback_streams]
        self.abort_requested = False
        self.failure: BaseException | None = None
        self.attempt = 0
        self.checks = ContentChecks(options.guardrails, options.drift, options.retry_on_drift,
                                    self._emit)
        self._trimmer: OverlapTrimmer | None = None
        self._decoder: Any = None
        self._next_check = 1
        self._next_guard = self._next_drift = self._next_checkpoint = _NEVER
        self._unchecked = self._first_pending = True
        self._held_complete: L0Event | None = None
        self._sleep_scope: anyio.CancelScope | None = None
        self._started_at = 0.0
        self._polled_signal: Callable[[], bool] | None = None
        self.metering = (MeteredRun(options.budget, self.emitter.stream_id)
                         if options.budget is not None else None)
        self._next_meter = _NEVER
        signal = options.signal
        if isinstance(signal, AbortSignal):
            signal._subscribe(self.abort)
        elif signal is not None:
            self._polled_signal = signal.is_set

    # -- control --------------------------------------------------------------------
    def abort(self) -> None:
        self.abort_requested = True
        self._next_check = 0  # the next token takes the slow path, which raises
        self.watchdog.interrupt("abort")
        if self._sleep_scope is not None:
            self._sleep_scope.cancel()

    def _check_abort(self) -> None:
        if self._polled_signal is not None and self._polled_signal():
            self.abort_requested = True
        if self.abort_requested:
            raise L0AbortedError("aborted")

    def _emit(self, kind: LifecycleEventType, /, **data: Any) -> None:
        if self.emitter.active:
            self.emitter.emit(kind, self.attempt, self.state.fallback_index, **data)

    # -- the event generator ------------------------------------------------------------
    def stream(self) -> AsyncIterator[L0Event]:
        """The run's event generator (created once; the watchdog watches where it waits)."""
        generator = self.events()
        self.watchdog.generator = generator
        return generator

    async def events(self) -> AsyncIterator[L0Event]:
        state, watchdog = self.state, self.watchdog
        self._started_at = time.monotonic()
        self._emit(_E.SESSION_START, streams=len(self.factories))
        manager = RetryManager(self.options.retry)
        metering = self.metering
        try:
            for index, factory in enumerate(self.factories):
                manager.reset()
                state.fallback_index = index
                if index:
                    self.telemetry.fallbacks += 1
                    self._emit(_E.FALLBACK, index=index)
                while True:
                    notice: L0Event | None = None
                    delay = 0.0
                    source: Any = None
                    self._check_abort()
                    if metering is not None and not await metering.admit(self, index):
                        break  # the meter refused: the next fallback may fit
                    prefix = self._begin_attempt()
                    outcome: AttemptOutcome = "abandoned"
                    ended_by: BaseException | None = None
                    try:
                        source = await self._open(factory, prefix)
                        iterator, first = await self._iterator(source)
                        decoder = self._decoder
                        feed = decoder.feed if decoder is not None else None
                        if first:  # read to pick the adapter: it takes the slow path
                            event = feed(first[0]) if feed is not None else first[0]
                            event = self._rare_event(event) if event is not None else None
                            if event is not None:
                                self._check_abort()
                                yield event
                        parts = state._parts
                        count = state.token_count
                        trimmer = self._trimmer
                        if isinstance(decoder, PlainDecoder) and trimmer is None:
                            # Plain text, the commonest stream, is decoded right here; the
                            # rest of this loop is the generic path, minus the trimming.
                            append, make_token, text = parts.append, TokenEvent, str
                            async for chunk in iterator:
                                if chunk.__class__ is text and chunk:
                                    append(chunk)
                                    count += 1
                                    # abort() zeroes _next_check: this checks abort too.
                                    if count >= self._next_check:
                                        self._periodic(count)
                                    event = make_token()
                                    event.value = chunk
                                    yield event
                                    continue
                                event = decoder.feed(chunk)
                                if event is not None:
                                    event = self._rare_event(event)
                                    count = state.token_count
                                    if event is not None:
                                        yield event
                        else:
                            async for chunk in iterator:
                                event = feed(chunk) if feed is not None else chunk
                                if event is None:
                                    continue
                                if event.type == "token" and trimmer is None:
                                    parts.append(event.value)
                                    count += 1
                                    if count >= self._next_check:
                                        self._periodic(count)
                                else:
                                    event = self._rare_event(event)
                                    count, trimmer = state.token_count, self._trimmer
                                    if event is None:
                                        continue
                                yield event
                        finished = self._finish_attempt()
                        outcome = "completed"
                        for event in finished:
                            yield event
                        return
                    except (Exception, asyncio.CancelledError) as caught:
                        if metering is not None and caught is metering.cut:
                            outcome, ended_by = "budget", metering.stopped(self)
                            raise
                        error = ended_by = self._interpret(caught)
                        if isinstance(error, L0AbortedError):
                            raise error from None  # the attempt ends as "abandoned"
                        outcome = "failed"
                        retry, delay = self._on_failure(error, manager)
                        if not retry and index + 1 == len(self.factories):
                            final = self._final_error()
                            if final is caught:
                                raise  # the provider's error as it was, cause chain intact
                            if final is error:
                                raise final from None
                            raise final from error
                        outcome = "retried"
                        notice = self._notice(error, "retry" if retry else "fallback")
                    finally:
                        watchdog.stop()
                        await close_source(source)
                        if metering is not None:
                            await metering.end(self, outcome, ended_by)
                    yield notice
                    if not retry:
                        break
                    await self._pause(delay)
        except L0AbortedError as aborted:
            self._mark_aborted()
            self.failure = aborted
            raise
        except Exception as failed:
            self.failure = failed
            raise
        finally:
            signal = self.options.signal
            if isinstance(signal, AbortSignal):
                signal._unsubscribe(self.abort)
            if self.emitter.active:
                self._emit_session_end()

    # -- attempt setup -------------------------------------------------------------------
    def _begin_attempt(self) -> str:
        state = self.state
        prefix = ""
        if self.options.continue_from_checkpoint and self.attempt:
            prefix = state.checkpoint
        state._start_attempt(prefix)
        if prefix:
            state.resumed = True
            self._emit(_E.RESUME, checkpoint_chars=len(prefix))
        self.attempt += 1
        self.telemetry.attempts += 1
        self.machine.transition(RuntimeState.ACTIVE)
        self._trimmer = OverlapTrimmer(prefix) if prefix else None
        self._held_complete = None
        self._decoder = None
        self._setup_checks()
        self.watchdog.started = False
        self._first_pending = True
        self._emit(_E.ATTEMPT_START, continuing=bool(prefix))
        return prefix

    def _setup_checks(self) -> None:
        checks, intervals = self.checks, self.intervals
        checks.start(self.state)
        self._next_guard = intervals.guardrails if checks.engine is not None else _NEVER
        self._next_drift = intervals.drift if checks.detector is not None else _NEVER
        self._next_checkpoint = intervals.checkpoint
        self._unchecked = checks.engine is None and checks.detector is None
        if self._unchecked and not self._observed and self._polled_signal is None:
            # Nothing to run every N tokens: the state derives checkpoints when read, and
            # abort() still reaches the loop by zeroing _next_check.
            self.state._lazy_checkpoint_every = intervals.checkpoint
            self._next_checkpoint = _NEVER
        self._next_check = 1  # the first token always takes the slow path

    async def _open(self, factory: Factory, prefix: str) -> Any:
        continuation = None
        if prefix:
            build = self.options.build_continuation or default_continuation
            continuation = build(prefix)
        watchdog = self.watchdog
        watchdog.start()
        produced = factory.call(continuation)
        if inspect.isawaitable(produced):
            produced = await self._watched(produced)
        if hasattr(produced, "__aenter__") and not hasattr(produced, "__aiter__"):
            manager = produced
            produced = Entered(manager, await self._watched(manager.__aenter__()))
        return produced

    def _watched(self, awaitable: Any) -> Any:
        """``awaitable`` under the deadline (the timer watches it already under asyncio)."""
        return awaitable if self.watchdog.use_timer else self.watchdog.wait(awaitable)

    async def _iterator(self, source: Any) -> tuple[AsyncIterator[Any], tuple[Any, ...]]:
        """The iterator to loop over, and the first chunk when it was read to detect."""
        adapter = self._resolve_adapter(source)
        stream = source.stream if isinstance(source, Entered) else source
        self._decoder = None
        if not hasattr(stream, "__aiter__"):
            raise TypeError(f"a stream factory returned {type(stream).__name__}, "
                            "not an async iterable")
        iterator: AsyncIterator[Any] = stream.__aiter__()
        first: tuple[Any, ...] = ()
        if adapter is None:  # nothing recognised the stream: decide on its first chunk
            try:
                first = (await self._watched(iterator.__anext__()),)
            except StopAsyncIteration:
                first = ()
            adapter = detect_adapter(first[0]) if first else get_adapter("plain")
            if adapter is None:
                kind = type(first[0]).__name__ if first else "empty"
                raise L0Error(f"no L0 adapter understands {kind} chunks; "
                              "pass adapter= or register one")
        decoder_factory = getattr(adapter, "decoder", None)
        if decoder_factory is not None:
            self._decoder = decoder_factory()
        else:
            if first:
                iterator, first = Prepended(first[0], iterator), ()
            iterator = adapter.wrap(iterator).__aiter__()
        if not self.watchdog.use_timer:
            iterator = DeadlineIterator(iterator, self.watchdog)
        return iterator, first

    def _resolve_adapter(self, source: Any) -> L0Adapter | None:
        chosen = self.options.adapter
        if isinstance(chosen, str):
            return get_adapter(chosen)
        if chosen is not None:
            return chosen
        stream = source.stream if isinstance(source, Entered) else source
        return detect_adapter(stream)

    # -- off the hot path -------------------------------------------------------------------
    def _periodic(self, count: int) -> None:
        """First token, abort, guardrails, drift and checkpoints, every few tokens."""
        if count >= self._next_meter:  # before anything reads the token it may withhold
            assert self.metering is not None
            self._next_meter = self.metering.tokens(count, self._decoder)
        if self._first_pending:
            self._first_token()
        if self._polled_signal is not None and self._polled_signal():
            self.abort_requested = True
        if self.abort_requested:
            raise L0AbortedError("aborted")
        if self._unchecked:  # nothing reads the text: only checkpoints are due
            if count >= self._next_checkpoint:
                state = self.state
                state._checkpoint_parts = len(state._parts)
                self._next_checkpoint = count + self._checkpoint_every
                if self._observed:
                    self._emit(_E.CHECKPOINT, token_count=count)
            self._next_check = min(self._next_checkpoint, self._next_meter)
            return
        state, checks = self.state, self.checks
        clean = True
        if count >= self._next_guard or (count >= self._next_checkpoint
                                         and checks.engine is not None):
            clean = checks.guardrails(state, count)
            self._next_guard = count + self.intervals.guardrails
        if count >= self._next_drift:
            clean = checks.drift(state) and clean
            self._next_drift = count + self.intervals.drift
        if count >= self._next_checkpoint:
            if clean:
                self._checkpoint(count)
            else:
                self._next_checkpoint = count + self.intervals.checkpoint
        self._next_check = min(self._next_guard, self._next_drift, self._next_checkpoint,
                               self._next_meter)

    def _first_token(self) -> None:
        self._first_pending = False
        state = self.state
        if state.first_token_at is None:
            now = time.monotonic()
            state.first_token_at = now
            self.telemetry.time_to_first_token = now - self._started_at
            self._emit(_E.FIRST_TOKEN)
        self.watchdog.saw_first_token()

    def _checkpoint(self, count: int) -> None:
        self.state._save_checkpoint()
        self._next_checkpoint = count + self._checkpoint_every
        if self._observed:
            # No character count: measuring the checkpoint would join the whole text.
            self._emit(_E.CHECKPOINT, token_count=count)

    def _rare_event(self, event: L0Event) -> L0Event | None:
        self._check_abort()
        kind = event.type
        if kind == "token":
            trimmer = self._trimmer
            if trimmer is not None:
                text = trimmer.feed(event.value or "")
                if trimmer.done:
                    self._trimmer = None
                if not text:
                    return None
                event = event._replace(value=text)
            return self._accept_token(event)
        if kind == "error":
            error = event.error
            if isinstance(error, Exception):
                raise error
            raise L0StreamError(event.value or "the stream reported an error")
        if kind == "complete":
            self._held_complete = event
            if event.usage is not None:
                self.state.usage = event.usage
            return None
        if kind == "tool_call" and event.data is not None:
            self.state.tool_calls.append(event.data)
        return event._replace(timestamp=time.monotonic())

    def _accept_token(self, event: L0Event) -> L0Event:
        state = self.state
        state._parts.append(event.value or "")
        if state.token_count >= self._next_check:
            self._periodic(state.token_count)
        return event

    def _finish_attempt(self) -> list[L0Event]:
        state, events = self.state, []
        if self._trimmer is not None:
            text = self._trimmer.flush()
            self._trimmer = None
            if text:
                events.append(self._accept_token(L0Event("token", text)))
        if self._decoder is not None:
            for event in self._decoder.finish():
                accepted = self._rare_event(event)
                if accepted is not None:
                    events.append(accepted)
        self.machine.transition(RuntimeState.COMPLETING)
        self.checks.complete(state)
        now = time.monotonic()
        complete = (self._held_complete or L0Event("complete"))._replace(timestamp=now)
        state.completed = True
        state.last_token_at = now
        state.duration = now - self._started_at
        telemetry = self.telemetry
        telemetry.duration = state.duration
        telemetry.token_count = state.token_count
        telemetry.usage = state.usage
        if state.duration > 0:
            telemetry.tokens_per_second = state.token_count / state.duration
        self.machine.transition(RuntimeState.COMPLETED)
        self._emit(_E.COMPLETE, token_count=state.token_count, usage=state.usage)
        events.append(complete)
        return events

    # -- failures ---------------------------------------------------------------------
    def _interpret(self, caught: BaseException) -> BaseException:
        watchdog = self.watchdog
        if watchdog.fired is not None:
            if isinstance(caught, asyncio.CancelledError):
                watchdog.absorb_cancel()
            error: BaseException = watchdog.error()
            if isinstance(error, L0TimeoutError):
                self._emit(_E.TIMEOUT, kind=error.kind, seconds=error.seconds)
            return error
        if isinstance(caught, asyncio.CancelledError):
            raise caught
        if self.abort_requested:
            return L0AbortedError("aborted")
        return caught

    def _on_failure(self, error: BaseException, manager: RetryManager) -> tuple[bool, float]:
        self.errors.append(error)
        self.state.last_token_at = time.monotonic()
        self.machine.transition(RuntimeState.ERRORED)
        classification = classify_error(error)
        self._emit(_E.ERROR, error=error, category=classification.category.value)
        if error is self.checks.fatal:
            raise error
        if isinstance(error, L0DriftError) and not self.options.retry_on_drift:
            raise error
        decision = manager.decide(error, classification)
        if decision.raise_now:
            raise error
        if not decision.retry:
            return False, 0.0
        if decision.counted:
            self.state.model_retry_count += 1
        else:
            self.state.network_retry_count += 1
        retries = self.telemetry.retries
        retries[decision.reason.value] = retries.get(decision.reason.value, 0) + 1
        self._emit(_E.RETRY, reason=decision.reason.value, delay=decision.delay,
                   category=decision.category.value, error=error)
        return True, decision.delay

    def _notice(self, error: BaseException, action: str) -> L0Event:
        keep = len(self.state.checkpoint) if self.options.continue_from_checkpoint else 0
        return L0Event("error", error=error, timestamp=time.monotonic(),
                       data={"action": action, "discard_from": keep,
                             "attempt": self.attempt})

    def _final_error(self) -> BaseException:
        last = self.errors[-1]
        if isinstance(last, (L0GuardrailError, L0DriftError)) or len(self.errors) == 1:
            return last
        return L0ExhaustedError(self.errors)

    def _mark_aborted(self) -> None:
        self.state.aborted = True
        if self.machine.can_transition(RuntimeState.ABORTED):
            self.machine.transition(RuntimeState.ABORTED)
        self._emit(_E.ABORT, token_count=self.state.token_count)

    def _emit_session_end(self) -> None:
        """The run's last event, whatever ended it (see ``SessionEndData``)."""
        from cascadeflow.l0._payloads import session_end_data

        self._emit(_E.SESSION_END, **session_end_data(self))

    async def _pause(self, delay: float) -> None:
        if delay <= 0:
            return
        with anyio.CancelScope() as scope:
            self._sleep_scope = scope
            try:
                await self.options.sleep(delay)
            finally:
                self._sleep_scope = None
        self._check_abort()
