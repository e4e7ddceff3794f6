"""Every example under examples/ runs offline; each is run here or next to its feature's tests.

The LiteLLM examples run in tests/integrations/test_examples.py, the proxy example in
tests/integrations/test_proxy.py and several_workers.py in the Redis tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ELSEWHERE = {"litellm_callback.py", "litellm_can_afford.py", "litellm_guarded_completion.py",
             "several_workers.py"}
HERE = sorted(p.name for p in (ROOT / "examples").glob("*.py") if p.name not in ELSEWHERE)


def test_every_example_is_run_by_some_test() -> None:
    assert {"quickstart.py", "l0_openai.py", "l0_structured.py"} <= set(HERE)
    assert {"l0_parallel.py", "l0_race.py", "l0_consensus.py", "l0_pipeline.py",
            "l0_window.py"} <= set(HERE)


@pytest.mark.parametrize("name", HERE)
def test_example_runs_offline(name: str) -> None:
    env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True", PYTHONPATH=str(ROOT))
    # No network: any attempt to reach a provider must fail fast rather than hang.
    env.update(OPENAI_API_KEY="sk-offline", ANTHROPIC_API_KEY="sk-offline",
               HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9")
    done = subprocess.run([sys.executable, str(ROOT / "examples" / name)], capture_output=True,
                          text=True, timeout=180, env=env, cwd=ROOT, check=False)
    assert done.returncode == 0, f"{name} failed:\n{done.stdout[-1500:]}\n{done.stderr[-3000:]}"
    assert done.stdout.strip(), f"{name} printed nothing"
