"""Billing plain LiteLLM streams that are dropped, closed or fail before their end.

LiteLLM tells callbacks about a stream only when it is read to the end (a success event)
or fails; a stream the caller stops reading reports nothing. LiteLLM's stream wrapper
keeps every chunk it handed out (to build the final response), so the callback watches
the streams of the calls it saw leave: when such a wrapper is garbage collected before
its last chunk (or closed with ``aclose()``), the callback is told, and bills what the
chunks delivered.
"""

from __future__ import annotations

import functools
import logging
import threading
import weakref
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["WatchedStream", "bill_collected", "install", "unwatch", "watch"]

logger = logging.getLogger("cascadeflow.integrations.litellm")

_lock = threading.Lock()
_collected: deque[tuple[WatchedStream, str]] = deque()
_watched: dict[str, WatchedStream] = {}
_installed: bool | None = None
# Where an adopted wrapper keeps its watch, so that ``aclose()`` can bill it at once.
_WATCH_ATTRIBUTE = "_cascadeflow_watch"
# Watches whose stream never appeared (a call that failed before streaming) are dropped
# oldest first beyond this many.
_MAX_WATCHED = 100_000


class WatchedStream:
    """One plain stream the callback will bill if it is not read to its end.

    ``state`` is the LiteLLM wrapper's attribute dict once the wrapper exists (it outlives
    the wrapper: the finaliser reads the chunks from it).
    """

    __slots__ = ("call_id", "kwargs", "model", "on_end", "prompt_tokens", "state")

    def __init__(self, call_id: str, model: str, prompt_tokens: int, kwargs: Mapping[str, Any],
                 on_end: Callable[[WatchedStream, str], None]) -> None:
        self.call_id = call_id
        self.model = model
        self.prompt_tokens = prompt_tokens
        self.kwargs = kwargs
        self.on_end = on_end
        self.state: dict[str, Any] | None = None

    @property
    def chunks(self) -> list[Any]:
        """The chunks the wrapper handed out so far (empty before it existed)."""
        chunks = self.state.get("chunks") if self.state is not None else None
        return list(chunks) if isinstance(chunks, list) else []

    def _outcome(self) -> str | None:
        state = self.state
        if state is not None and state.get("sent_last_chunk") is True:
            return None  # read to its end: LiteLLM's success event records it
        # LiteLLM notes a failure in the call's details before the caller sees it raised.
        return "failed" if self.kwargs.get("exception") is not None else "abandoned"

    def _bill(self, outcome: str) -> None:
        try:
            self.on_end(self, outcome)
        except Exception:  # never break the caller over a bill; the miss is logged
            logger.exception("cascadeflow: billing an abandoned LiteLLM stream failed")

    def closed(self) -> None:
        """The caller closed the stream (``aclose()``): bill what it delivered now."""
        outcome = self._outcome()
        if outcome is not None:
            self._bill(outcome)

    def collected(self) -> None:
        """The wrapper was garbage collected: queue its bill for :func:`bill_collected`.

        A finaliser may run inside any lock this thread holds (the collector runs where an
        allocation triggers it), so it only queues; the callback bills where it holds none.
        """
        outcome = self._outcome()
        if outcome is not None:
            _collected.append((self, outcome))


def bill_collected() -> None:
    """Bill the streams whose wrappers were collected since the last call (any callback's)."""
    while _collected:
        try:
            stream, outcome = _collected.popleft()
        except IndexError:  # another thread took the last one
            return
        stream._bill(outcome)


def watch(stream: WatchedStream) -> None:
    """Watch the stream LiteLLM is about to create for ``stream.call_id``."""
    with _lock:
        _watched[stream.call_id] = stream
        while len(_watched) > _MAX_WATCHED:
            _watched.pop(next(iter(_watched)))


def unwatch(call_id: str) -> None:
    """Stop watching ``call_id`` (its stream was billed some other way)."""
    with _lock:
        _watched.pop(call_id, None)


def _adopt(wrapper: object) -> None:
    logging_obj = getattr(wrapper, "logging_obj", None)
    details = getattr(logging_obj, "model_call_details", None)
    call_id = details.get("litellm_call_id") if isinstance(details, dict) else None
    if call_id is None:
        return
    with _lock:
        stream = _watched.pop(str(call_id), None)
    if stream is None:
        return
    state = getattr(wrapper, "__dict__", None)
    if not isinstance(state, dict) or not isinstance(state.get("chunks"), list):
        logger.warning("cascadeflow: this LiteLLM's stream wrapper keeps no chunks; streams "
                       "that are not read to the end cannot be billed")
        return
    stream.state = state
    state[_WATCH_ATTRIBUTE] = stream
    weakref.finalize(wrapper, stream.collected)


def install() -> bool:
    """Hook LiteLLM's stream wrapper once, so new streams of watched calls are adopted.

    Returns False (and logs once) when this LiteLLM has no ``CustomStreamWrapper``.
    """
    global _installed
    with _lock:
        if _installed is not None:
            return _installed
        try:
            from litellm import CustomStreamWrapper
        except ImportError:
            logger.warning("cascadeflow: litellm.CustomStreamWrapper not found; streams "
                           "that are not read to the end cannot be billed")
            _installed = False
            return False
        original = CustomStreamWrapper.__init__

        @functools.wraps(original)
        def init_and_adopt(self: Any, *args: Any, **kwargs: Any) -> None:
            original(self, *args, **kwargs)
            if _watched:
                try:
                    _adopt(self)
                except Exception:  # never break the caller's stream
                    logger.exception("cascadeflow: watching a LiteLLM stream failed")

        CustomStreamWrapper.__init__ = init_and_adopt
        closer = getattr(CustomStreamWrapper, "aclose", None)
        if closer is not None:
            @functools.wraps(closer)
            async def aclose_and_bill(self: Any) -> Any:
                try:
                    return await closer(self)
                finally:
                    watched = self.__dict__.get(_WATCH_ATTRIBUTE)
                    if watched is not None:
                        watched.closed()

            CustomStreamWrapper.aclose = aclose_and_bill
        _installed = True
        return True
