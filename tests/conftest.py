"""Suite-wide set-up: LiteLLM prices from its bundled map (no network), shared fixtures."""

from __future__ import annotations

import os

# Importing LiteLLM without this tries to download prices and waits seconds.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

pytest_plugins = ["tests._redis_server", "tests._redis_cluster", "tests._postgres_server"]
