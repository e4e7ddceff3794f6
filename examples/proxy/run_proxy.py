"""Start LiteLLM's proxy on loopback with cascadeflow budgets, drive it as two users, stop it.

Offline: every model answers with a mock. Run with ``.venv/bin/python examples/proxy/run_proxy.py``.
alice has a daily budget for about two requests and is refused with HTTP 429 on the third;
bob has plenty. Both spends end up in the SQLite ledger.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_proxy(ledger: Path | str, budgets: str, port: int) -> subprocess.Popen[bytes]:
    """The proxy on ``port``; ``ledger`` is a SQLite file or a ``postgresql://`` DSN."""
    env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True", CASCADEFLOW_LEDGER=str(ledger),
               CASCADEFLOW_USER_BUDGETS=budgets, PYTHONPATH=str(ROOT))
    litellm_cli = Path(sys.executable).with_name("litellm")
    return subprocess.Popen(
        [str(litellm_cli), "--config", str(HERE / "config.yaml"), "--host", "127.0.0.1",
         "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_ready(port: int, process: subprocess.Popen[bytes], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the proxy exited before it was ready")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/liveliness", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the proxy did not become ready in time")


def main() -> None:
    import openai

    from cascadeflow.storage import SQLiteStore
    from cascadeflow.telemetry import CostTracker

    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        ledger = Path(folder) / "ledger.db"
        proxy = start_proxy(ledger, "alice=0.0005,bob=1.0", port)
        try:
            wait_ready(port, proxy)
            client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}", api_key="sk-local",
                                   max_retries=0)
            for user in ("alice", "bob"):
                for number in range(1, 4):
                    try:
                        client.chat.completions.create(
                            model="gpt-4o", user=user, max_tokens=20,
                            messages=[{"role": "user", "content": f"Question {number}"}])
                        print(f"{user} request {number}: answered")
                    except openai.RateLimitError as refused:
                        print(f"{user} request {number}: refused (429) - {refused.message}")
        finally:
            proxy.terminate()
            proxy.wait(timeout=30)
        ledger_view = CostTracker(store=SQLiteStore(ledger))
        for user in ("alice", "bob"):
            summary = ledger_view.get_user_summary(user)
            print(f"{user}: spent ${summary['total_cost']:.6f} in "
                  f"{summary['total_entries']} entries")


if __name__ == "__main__":
    main()
