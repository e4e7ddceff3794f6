"""The ledger's observer seam: typed records reach hooks, and a failing hook breaks nothing."""

from __future__ import annotations

import pytest

from cascadeflow.telemetry import (
    BudgetConfig,
    BudgetExceededError,
    CostTracker,
    EnforcementAction,
    EnforcementDecided,
    EntryRecorded,
    LedgerEvent,
    ReservationRefused,
    add_ledger_hook,
    ledger_hook_failures,
    ledger_hooks,
    remove_ledger_hook,
)


def test_entries_decisions_and_refusals_reach_a_hook_as_typed_records() -> None:
    seen: list[LedgerEvent] = []
    add_ledger_hook(seen.append)
    try:
        tracker = CostTracker(enforcement_mode="block",
                              user_budgets={"free": BudgetConfig(daily=0.01)})
        entry = tracker.add_cost("gpt-4o-mini", "openai", 30, 0.004, user_id="u1",
                                 user_tier="free", prompt_tokens=10, completion_tokens=20)
        with tracker.reserve("u1", 0.001) as held:
            settled = held.settle(0.001, model="gpt-4o-mini", provider="openai", tokens=5)
        tracker.enforce("u1", "gpt-4o-mini", 0.5)
        with pytest.raises(BudgetExceededError):
            tracker.reserve("u1", 0.5)
    finally:
        assert remove_ledger_hook(seen.append)
    recorded = [e for e in seen if isinstance(e, EntryRecorded)]
    assert [r.entry for r in recorded] == [entry, settled]
    assert recorded[0].cost_nanos == 4_000_000
    [decision] = [e for e in seen if isinstance(e, EnforcementDecided)]
    assert (decision.user_id, decision.user_tier, decision.model) == ("u1", "free",
                                                                      "gpt-4o-mini")
    assert decision.result.action is EnforcementAction.BLOCK
    [refused] = [e for e in seen if isinstance(e, ReservationRefused)]
    assert (refused.scope_kind, refused.period, refused.requested) == ("user", "daily", 0.5)
    assert refused.limit == 0.01 and refused.spent == pytest.approx(0.005)
    assert seen.append not in ledger_hooks()


def test_a_hook_that_raises_never_breaks_recording(caplog: pytest.LogCaptureFixture) -> None:
    def broken(event: LedgerEvent) -> None:
        raise RuntimeError("hook bug")

    before = ledger_hook_failures()
    add_ledger_hook(broken)
    try:
        tracker = CostTracker()
        for _ in range(3):
            tracker.add_cost("gpt-4o", "openai", 10, 0.001, user_id="u2")
    finally:
        remove_ledger_hook(broken)
    assert len(tracker.get_entries_by_user("u2")) == 3
    assert ledger_hook_failures() - before == 3
    assert sum("ledger hook" in r.getMessage() for r in caplog.records) == 1
    with pytest.raises(TypeError):
        add_ledger_hook("not callable")  # type: ignore[arg-type]
