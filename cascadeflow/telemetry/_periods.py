"""Calendar periods in a timezone, addressed by keys so that a reset is simply a new key."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from cascadeflow.storage import PeriodKey

#: The key of the period that never resets.
TOTAL_KEY = "total"


def _midnight(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0, fold=0)


def _next_local_midnight(start: datetime, days: int) -> datetime:
    # Wall-clock arithmetic: re-attach the zone so DST days are 23 or 25 hours long.
    wall = start.replace(tzinfo=None) + timedelta(days=days)
    return wall.replace(tzinfo=start.tzinfo)


def period_keys_at(moment: datetime, zone: tzinfo) -> tuple[PeriodKey, ...]:
    """The daily, weekly, monthly and total keys for ``moment`` seen in ``zone``.

    Example:
        >>> from zoneinfo import ZoneInfo
        >>> [k.key for k in period_keys_at(datetime(2026, 11, 24, 9, tzinfo=ZoneInfo("UTC")),
        ...                                ZoneInfo("UTC"))]
        ['daily:2026-11-24', 'weekly:2026-W48', 'monthly:2026-11', 'total']
    """
    local = moment.astimezone(zone)
    day_start = _midnight(local)
    day_end = _next_local_midnight(day_start, 1)
    week_start = _next_local_midnight(day_start, -local.weekday())
    week_end = _next_local_midnight(week_start, 7)
    month_start = day_start.replace(day=1)
    if month_start.month == 12:
        month_end = month_start.replace(year=month_start.year + 1, month=1)
    else:
        month_end = month_start.replace(month=month_start.month + 1)
    iso_year, iso_week, _ = local.isocalendar()
    return (
        PeriodKey("daily", f"daily:{local:%Y-%m-%d}", day_end.timestamp()),
        PeriodKey("weekly", f"weekly:{iso_year:04d}-W{iso_week:02d}", week_end.timestamp()),
        PeriodKey("monthly", f"monthly:{local:%Y-%m}", month_end.timestamp()),
        PeriodKey("total", TOTAL_KEY, None),
    )


class PeriodClock:
    """Caches the current period keys until the next day boundary (hot-path helper)."""

    __slots__ = ("_keys", "_valid_from", "_valid_until", "_zone")

    def __init__(self, zone: tzinfo) -> None:
        self._zone = zone
        self._keys: tuple[PeriodKey, ...] = ()
        self._valid_until = float("-inf")
        self._valid_from = float("inf")

    def keys(self, moment: datetime) -> tuple[PeriodKey, ...]:
        """The period keys for ``moment``; recomputed only when it leaves the cached day."""
        stamp = moment.timestamp()
        if self._valid_from <= stamp < self._valid_until:
            return self._keys
        return self._compute(moment)

    def keys_at(self, stamp: float) -> tuple[PeriodKey, ...]:
        """The period keys at POSIX time ``stamp`` (no datetime needed while cached)."""
        if self._valid_from <= stamp < self._valid_until:
            return self._keys
        return self._compute(datetime.fromtimestamp(stamp, self._zone))

    def _compute(self, moment: datetime) -> tuple[PeriodKey, ...]:
        keys = period_keys_at(moment, self._zone)
        self._keys = keys
        daily_end = keys[0].ends_at
        assert daily_end is not None
        self._valid_until = daily_end
        start = _midnight(moment.astimezone(self._zone))
        self._valid_from = start.timestamp()
        return keys


def hour_key(stamp: float, zone: tzinfo) -> PeriodKey:
    """The calendar hour at POSIX time ``stamp`` in ``zone`` (the offset tells DST hours apart).

    Example:
        >>> utc = ZoneInfo("UTC")
        >>> hour_key(datetime(2026, 11, 24, 9, 30, tzinfo=utc).timestamp(), utc).key
        'hourly:2026-11-24T09+0000'
    """
    local = datetime.fromtimestamp(stamp, zone)
    start = local.replace(minute=0, second=0, microsecond=0)
    return PeriodKey("hourly", f"hourly:{local:%Y-%m-%dT%H%z}", start.timestamp() + 3600.0)


def minute_key(stamp: float) -> PeriodKey:
    """The minute at POSIX time ``stamp``: the window of ``rpm`` and ``tpm`` rate limits."""
    minute = int(stamp // 60)
    return PeriodKey("minute", f"minute:{minute}", (minute + 1) * 60.0)


def previous_period_key(period: str, stamp: float, zone: tzinfo) -> PeriodKey | None:
    """The key of the period before the one holding ``stamp`` (``None`` for ``total``).

    Example:
        >>> moment = datetime(2026, 12, 1, 0, 30, tzinfo=ZoneInfo("UTC")).timestamp()
        >>> previous_period_key("monthly", moment, ZoneInfo("UTC")).key
        'monthly:2026-11'
    """
    local = datetime.fromtimestamp(stamp, zone)
    if period == "hourly":
        start = local.replace(minute=0, second=0, microsecond=0)
        return hour_key(start.timestamp() - 1.0, zone)
    day_start = _midnight(local)
    if period == "daily":
        start = day_start
    elif period == "weekly":
        start = _next_local_midnight(day_start, -local.weekday())
    elif period == "monthly":
        start = day_start.replace(day=1)
    else:
        return None
    before = datetime.fromtimestamp(start.timestamp() - 1.0, zone)
    keys = period_keys_at(before, zone)
    return {key.period: key for key in keys}[period]
