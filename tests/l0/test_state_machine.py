"""The runtime state machine refuses transitions that make no sense."""

from __future__ import annotations

import pytest

from cascadeflow.l0 import L0StateError, RuntimeState, StateMachine


def _completed() -> StateMachine:
    machine = StateMachine()
    for state in (RuntimeState.ACTIVE, RuntimeState.COMPLETING, RuntimeState.COMPLETED):
        machine.transition(state)
    return machine


def test_state_machine_refuses_completed_to_active() -> None:
    machine = _completed()
    with pytest.raises(L0StateError, match="completed -> active"):
        machine.transition(RuntimeState.ACTIVE)
    assert machine.state is RuntimeState.COMPLETED


def test_errored_may_become_active_again_for_a_retry() -> None:
    machine = StateMachine()
    machine.transition(RuntimeState.ACTIVE)
    machine.transition(RuntimeState.ERRORED)
    machine.transition(RuntimeState.ACTIVE)
    assert machine.history == [RuntimeState.PENDING, RuntimeState.ACTIVE,
                               RuntimeState.ERRORED, RuntimeState.ACTIVE]


def test_aborted_is_final() -> None:
    machine = StateMachine()
    machine.transition(RuntimeState.ABORTED)
    assert not machine.can_transition(RuntimeState.ACTIVE)
    with pytest.raises(L0StateError):
        machine.transition(RuntimeState.COMPLETING)
