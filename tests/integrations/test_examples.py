"""The LiteLLM examples run offline and print what the docs say they print."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import runpy, sys
for path in sys.argv[1:]:
    print(f"=== {path}", flush=True)
    runpy.run_path(path, run_name="__main__")
"""


def test_litellm_examples_run_offline():
    examples = [str(ROOT / "examples" / f"litellm_{name}.py")
                for name in ("callback", "can_afford", "guarded_completion")]
    env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True", PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", SCRIPT, *examples], capture_output=True,
                          text=True, timeout=120, env=env, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "ana request 3: blocked before sending (daily limit $0.0006)" in out
    assert "run 5: skipped" in out
    assert "answered by gpt-4o-mini" in out and "abandoned" in out
    assert "rate limited on both attempts; nothing was charged" in out
