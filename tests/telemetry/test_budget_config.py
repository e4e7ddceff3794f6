"""BudgetConfig: zero is a real limit, bad numbers are rejected with the field named."""

from __future__ import annotations

import math

import pytest

from cascadeflow.telemetry import BudgetConfig


def test_zero_is_a_limit_not_the_absence_of_one() -> None:
    config = BudgetConfig(daily=0.0)
    assert config.has_any_limit()
    assert config.limits() == {"daily": 0.0}


def test_no_fields_means_no_limit() -> None:
    assert not BudgetConfig().has_any_limit()


@pytest.mark.parametrize("bad", [-0.01, math.nan, math.inf, -math.inf, "5", True])
@pytest.mark.parametrize("field", ["daily", "weekly", "monthly", "total"])
def test_bad_limits_raise_value_error_naming_the_field(field: str, bad: object) -> None:
    with pytest.raises(ValueError, match=field):
        BudgetConfig(**{field: bad})  # type: ignore[arg-type]


def test_repr_is_readable() -> None:
    assert repr(BudgetConfig(daily=1, monthly=20.5)) == "BudgetConfig(daily=$1.00, monthly=$20.50)"
    assert repr(BudgetConfig()) == "BudgetConfig(no limits)"
