"""Printing one benchmark figure next to its target (and a competitor, when measured)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"


def header(title: str) -> None:
    """Print a section title."""
    print(f"\n== {title} ==", flush=True)


def figure(name: str, value: float, unit: str, target: str, *, ok: bool, peer: str = "") -> None:
    """Print ``name: value unit   target ...   [peer ...]   PASS/MISS``."""
    status = "PASS" if ok else "MISS"
    peer_text = f"   {peer}" if peer else ""
    print(f"  {name:<52} {value:>14,.2f} {unit:<10} target {target:<18}{peer_text}   {status}",
          flush=True)


def run_peer(script: str, *args: str, timeout: float = 600.0) -> str:
    """Run ``script`` (a path under benchmarks/peers/) with the peers' interpreter; return stdout.

    cascadeflow 1.2.0 installs as the ``cascadeflow`` module too, so competitors are measured
    in their own virtual environment (``.venv-peers``, made by ``make peers``).
    """
    python = str(PEERS_PYTHON) if PEERS_PYTHON.exists() else sys.executable
    env = dict(os.environ, PYTHONPATH="", LITELLM_LOCAL_MODEL_COST_MAP="True")
    done = subprocess.run(
        [python, str(ROOT / "benchmarks" / "peers" / script), *args],
        check=True, capture_output=True, text=True, timeout=timeout, env=env, cwd="/tmp",
    )
    return done.stdout
