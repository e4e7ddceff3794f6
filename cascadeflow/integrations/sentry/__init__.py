"""Sentry for cascadeflow: L0 runs and budget refusals as breadcrumbs, failed runs as events.

``sentry_sdk`` is the only import (``pip install cascadeflow[sentry]``); nothing happens
until ``sentry_sdk.init(...)`` has been called.

Example:
    >>> import sentry_sdk
    >>> from cascadeflow.integrations.sentry import sentry_observer
    >>> sentry_sdk.init(dsn="https://key@o0.ingest.sentry.io/0")
    >>> result = await l0(factory, on_event=sentry_observer())
"""

from __future__ import annotations

from cascadeflow.integrations.sentry._observer import (
    SentryObserver,
    budget_breadcrumbs,
    sentry_observer,
)

__all__ = ["SentryObserver", "budget_breadcrumbs", "sentry_observer"]
