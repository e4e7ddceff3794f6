"""BudgetGuard: a user's budget inside an L0 stream (an attempt meter for ``l0(budget=...)``).

Each attempt reserves its estimate capped at what the user has left, the stream is cut
before its running cost passes that hold, and the attempt is settled for exactly what it
delivered, as one ledger entry. It satisfies ``cascadeflow.l0.AttemptMeter`` structurally:
the ledger does not import L0 at run time.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from cascadeflow._entry import CostEntry
from cascadeflow._exceptions import BudgetExceededError
from cascadeflow._money import to_nanos, to_usd

if TYPE_CHECKING:
    from cascadeflow.l0 import AttemptEnd, AttemptStart
    from cascadeflow.pricing import PriceBook
    from cascadeflow.telemetry._reservation import Reservation
    from cascadeflow.telemetry._tracker import CostTracker

__all__ = ["BudgetGuard"]

#: Output tokens assumed when neither ``max_output_tokens`` nor the model's limit is known
#: (the LiteLLM callback assumes the same).
DEFAULT_OUTPUT_ESTIMATE = 4096
# A reservation refused because a concurrent stream took the room in between is tried
# again from a fresh reading of what is left, this many times in all.
_RESERVE_TRIES = 3


@dataclass(slots=True)
class _Attempt:
    """One attempt in flight: its price, its hold and the tokens the hold pays for."""

    model: str
    prompt_tokens: int
    reservation: Reservation
    affordable: int | None  # None: no limit applies, never cut
    period: str
    limit: float
    spent: float


def _usage_tokens(usage: Mapping[str, Any] | None) -> tuple[int, int] | None:
    if not usage:
        return None
    prompt = usage.get("input_tokens", usage.get("prompt_tokens"))
    completion = usage.get("output_tokens", usage.get("completion_tokens"))
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    if prompt <= 0 and completion <= 0:
        return None
    return max(prompt, 0), max(completion, 0)


def _count(value: object, name: str, *, positive: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < (1 if positive else 0):
        kind = "a positive" if positive else "a non-negative"
        raise ValueError(f"{name} must be {kind} int number of tokens, got {value!r}")
    return value


class BudgetGuard:
    """Keeps an L0 stream inside one user's budget: ``l0(factory, budget=guard)``.

    - Before every attempt (the first, each retry, each fallback) it reserves that
      attempt's estimate (``prompt_tokens`` plus ``max_output_tokens``, else the model's
      output limit capped at 4,096, on ``model``) capped at what the user has left, so
      concurrent streams of one user share the remainder and never overspend together.
      When not even the prompt and one output token fit, the attempt is refused with
      :class:`~cascadeflow.BudgetExceededError` before its factory is called (l0 then
      tries the next fallback, else raises it; it is never retried).
    - While tokens stream, it stops the stream *before* the running cost (prompt plus
      delivered tokens at the attempt's price) passes the hold: the iteration raises
      ``BudgetExceededError`` and ``result.state.content`` keeps the partial text.
    - Each attempt becomes one ledger entry, settled for exactly what it delivered (the
      provider's usage report when the stream sent one, else the prompt plus one token per
      token event; an attempt that delivered nothing costs nothing), with ``metadata``
      ``l0_stream_id``, ``l0_attempt`` (1-based), ``l0_fallback_index`` and
      ``l0_outcome`` (``completed``, ``retried``, ``abandoned``, ``failed``, ``budget``).

    Args:
        tracker: the ledger the budget lives in.
        user_id: whose budget the stream spends.
        user_tier: the user's tier, when the tracker should not look it up.
        model: the model the factory calls (its price); a model named by the stream's
            chunks replaces it for that attempt.
        prompt_tokens: tokens of the prompt, billed with every attempt that streams.
        max_output_tokens: the most the answer may use (the attempt's estimate).

    One guard may serve several runs at once (its state is per attempt).

    Example:
        >>> guard = BudgetGuard(tracker, "ana", model="gpt-4o", prompt_tokens=900,
        ...                     max_output_tokens=2_000)
        >>> result = await l0(factory, budget=guard)
        >>> try:
        ...     text = await result.text()
        ... except BudgetExceededError:
        ...     text = result.state.content     # what the budget paid for
        >>> result.telemetry.cost_usd == sum(entry.cost for entry in guard.entries)
        True

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        tracker: CostTracker,
        user_id: str,
        *,
        user_tier: str | None = None,
        model: str | None = None,
        prompt_tokens: int = 0,
        max_output_tokens: int | None = None,
        team: str | None = None,
        org: str | None = None,
        key: str | None = None,
        tags: Iterable[str] | None = None,
    ) -> None:
        if not isinstance(user_id, str) or not user_id:
            raise ValueError(f"user_id must be a non-empty string, got {user_id!r}")
        if model is not None and (not isinstance(model, str) or not model):
            raise ValueError(f"model must be a model name or None, got {model!r}")
        self.tracker = tracker
        self.user_id = user_id
        self.user_tier = user_tier
        self.model = model
        self.prompt_tokens = _count(prompt_tokens, "prompt_tokens")
        self.max_output_tokens = (None if max_output_tokens is None else
                                  _count(max_output_tokens, "max_output_tokens", positive=True))
        #: The scopes every attempt is checked and billed against besides the user.
        self.scopes: dict[str, Any] = {
            name: value for name, value in (
                ("team", team), ("org", org), ("key", key),
                ("tags", None if tags is None else tuple(tags)))
            if value is not None}
        self.entries: list[CostEntry] = []
        self._open: dict[tuple[str, int], _Attempt] = {}

    def __repr__(self) -> str:
        return (f"BudgetGuard(user_id={self.user_id!r}, model={self.model!r}, "
                f"prompt_tokens={self.prompt_tokens}, max_output_tokens={self.max_output_tokens})")

    @property
    def cost_usd(self) -> float:
        """What this guard has billed so far, over every attempt of every run."""
        return sum(entry.cost for entry in self.entries)

    # -- pricing ----------------------------------------------------------------------
    @property
    def _pricing(self) -> PriceBook:
        return self.tracker.pricing

    def _cost_nanos(self, model: str, prompt: int, completion: int) -> int:
        # The float the settlement records, converted as the ledger converts it.
        return to_nanos(self._pricing.estimate_cost(model, prompt, completion))

    def _output_estimate(self, model: str) -> int:
        if self.max_output_tokens is not None:
            return self.max_output_tokens
        price = self._pricing.find(model)
        ceiling = price.max_output_tokens if price is not None else None
        return min(ceiling or DEFAULT_OUTPUT_ESTIMATE, DEFAULT_OUTPUT_ESTIMATE)

    def _affordable(self, model: str, prompt: int, hold_nanos: int) -> int:
        """The most output tokens whose cost, with the prompt, fits in ``hold_nanos``."""
        low, high = 0, 1
        while self._cost_nanos(model, prompt, high) <= hold_nanos:
            low, high = high, high * 2
            if high > 1 << 40:  # a free model: nothing to cut
                return 1 << 40
        while high - low > 1:
            middle = (low + high) // 2
            if self._cost_nanos(model, prompt, middle) <= hold_nanos:
                low = middle
            else:
                high = middle
        return low

    # -- the attempt meter --------------------------------------------------------------
    async def attempt_model(self, start: AttemptStart) -> str:
        """The model the attempt will call (``model=``); subclasses may choose per attempt."""
        if self.model is None:
            raise ValueError("BudgetGuard needs model= to price an attempt before it starts")
        return self.model

    async def attempt_started(self, start: AttemptStart) -> int | None:
        """Reserve the attempt's estimate, capped at what is left; refuse when nothing fits."""
        model = await self.attempt_model(start)
        prompt = self.prompt_tokens
        self._pricing.get(model)  # an unknown model raises UnknownModelError, never $0
        estimate = self._cost_nanos(model, prompt, self._output_estimate(model))
        minimum = max(self._cost_nanos(model, prompt, 1), 1)
        refusal: BudgetExceededError | None = None
        for _ in range(_RESERVE_TRIES):
            period, limit_nanos, left_nanos = await self._tightest()
            hold = estimate if left_nanos is None else min(estimate, left_nanos)
            # Below the minimum, ask for the minimum: the tracker's refusal names the period.
            hold = max(hold, minimum)
            try:
                reservation = await self.tracker.areserve(
                    self.user_id, to_usd(hold), model=model, user_tier=self.user_tier,
                    **self.scopes)
            except BudgetExceededError as refused:
                refusal = refused
                if left_nanos is not None and left_nanos < minimum:
                    break
                continue
            capped = left_nanos is not None
            self._open[(start.stream_id, start.attempt)] = _Attempt(
                model, prompt, reservation,
                self._affordable(model, prompt, reservation.amount_nanos) if capped else None,
                period, to_usd(limit_nanos), to_usd(limit_nanos - (left_nanos or 0)))
            return 1  # the first token: the chunks may name the model
        assert refusal is not None
        raise refusal

    async def _tightest(self) -> tuple[str, int, int | None]:
        """The period with the least left: its name, limit and what is left (nanos)."""
        if self.scopes:
            return await self._tightest_of_scopes()
        left = await self.tracker.aremaining(self.user_id, user_tier=self.user_tier)
        if not left:
            return "total", 0, None
        period = min(left, key=lambda name: left[name])
        budget = self.tracker.get_user_budget(self.user_id, self.user_tier)
        limits = budget.limits() if budget is not None else {}
        return period, to_nanos(limits.get(period, 0.0)), to_nanos(left[period])

    async def _tightest_of_scopes(self) -> tuple[str, int, int | None]:
        """:meth:`_tightest` over the user and its scopes (``"team:search daily"``, ...)."""
        detail = await anyio.to_thread.run_sync(functools.partial(
            self.tracker.remaining_detail, self.user_id, self.user_tier, **self.scopes))
        if not detail:
            return "total", 0, None
        period = min(detail, key=lambda name: detail[name]["remaining"])
        return (period, to_nanos(detail[period]["limit"]),
                to_nanos(detail[period]["remaining"]))

    def tokens_delivered(self, start: AttemptStart, token_count: int,
                         model: str | None) -> int | None:
        """Stop the stream before its cost passes the hold; else when to check next."""
        attempt = self._open.get((start.stream_id, start.attempt))
        if attempt is None:
            return None
        if (model and model != attempt.model and token_count == 1
                and self._pricing.find(model) is not None):
            attempt.model = model  # the chunks know better than model=
            if attempt.affordable is not None:
                attempt.affordable = self._affordable(model, attempt.prompt_tokens,
                                                      attempt.reservation.amount_nanos)
        if attempt.affordable is None:
            return None
        if token_count > attempt.affordable:
            raise BudgetExceededError(
                user_id=self.user_id, period=attempt.period, limit=attempt.limit,
                spent=attempt.spent,
                requested=self._pricing.estimate_cost(attempt.model, attempt.prompt_tokens,
                                                      token_count),
                message=(f"budget guard stopped the stream of user {self.user_id!r} after "
                         f"{attempt.affordable} tokens: the next would pass the "
                         f"{attempt.period} limit ${attempt.limit:.6f}"))
        return attempt.affordable + 1

    def entry_metadata(self, end: AttemptEnd) -> dict[str, Any]:
        """Extra ``metadata`` for the attempt's entry (subclasses add their own)."""
        return {}

    async def attempt_ended(self, end: AttemptEnd) -> float | None:
        """Settle the attempt for what it delivered, as one entry; return its cost."""
        attempt = self._open.pop((end.stream_id, end.attempt), None)
        if attempt is None:
            return None
        model = attempt.model
        if end.model and end.model != model and self._pricing.find(end.model) is not None:
            model = end.model
        reported = _usage_tokens(end.usage)
        if reported is not None:
            prompt, completion = reported
        elif end.token_count:
            prompt, completion = attempt.prompt_tokens, end.token_count
        else:
            prompt = completion = 0
        cost = self._pricing.estimate_cost(model, prompt, completion)
        price = self._pricing.find(model)
        metadata = {"source": "l0_budget_guard", "l0_stream_id": end.stream_id,
                    "l0_attempt": end.attempt, "l0_fallback_index": end.fallback_index,
                    "l0_outcome": end.outcome, "stream_outcome": end.outcome,
                    **self.entry_metadata(end)}
        entry = await attempt.reservation.asettle(
            cost, model=model, provider=price.provider if price is not None else "unknown",
            prompt_tokens=prompt, completion_tokens=completion, metadata=metadata,
            user_tier=self.user_tier)
        self.entries.append(entry)
        return entry.cost
