"""The README's "several workers" example runs as documented."""

from __future__ import annotations

import subprocess
import sys

from .conftest import ROOT


def test_several_workers_example_stays_within_the_shared_budget() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "several_workers.py")],
                          capture_output=True, text=True, timeout=120, cwd=str(ROOT),
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert "worker-1:" in done.stdout and "worker-2:" in done.stdout
    assert "within the limit" in done.stdout
