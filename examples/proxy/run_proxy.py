"""Start LiteLLM's proxy on loopback with cascadeflow budgets, drive it as two users, stop it.

Offline: every model answers with a mock. Run with ``.venv/bin/python examples/proxy/run_proxy.py``.
alice has a daily budget for about two requests and is refused with HTTP 429 on the third;
bob has plenty. Both spends end up in the SQLite ledger.

LiteLLM's proxy (1.108 and later) refuses to start without a master key, so each run makes a
fresh one and the client authenticates with it; the end user is the request's ``user`` field.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
#: The proxy's admin key for this run (LiteLLM >= 1.108 will not start without one).
MASTER_KEY = f"sk-{secrets.token_hex(16)}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_proxy(ledger: Path | str, budgets: str, port: int, metrics_port: int | None = None,
                *, master_key: str | None = MASTER_KEY) -> subprocess.Popen[bytes]:
    """Start ``litellm --config config.yaml`` on loopback; its output goes to ``log_of(ledger)``.

    ``ledger`` is a SQLite file or a ``postgresql://`` DSN. ``master_key=None`` starts it
    without authentication (LiteLLM's explicit local-development switch), so any bearer token
    passes as an API key: the tests use that to set budgets on keys without running the
    proxy's key database.
    """
    env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True", CASCADEFLOW_LEDGER=str(ledger),
               CASCADEFLOW_USER_BUDGETS=budgets, PYTHONPATH=str(ROOT))
    if master_key is None:
        env.pop("LITELLM_MASTER_KEY", None)
        env["LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY"] = "true"
    else:
        env["LITELLM_MASTER_KEY"] = master_key
    if metrics_port is not None:
        env["CASCADEFLOW_PROMETHEUS_PORT"] = str(metrics_port)
    litellm_cli = Path(sys.executable).with_name("litellm")
    with open(log_of(ledger), "wb") as log:
        return subprocess.Popen(
            [str(litellm_cli), "--config", str(HERE / "config.yaml"), "--host", "127.0.0.1",
             "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT)


def log_of(ledger: Path | str) -> Path:
    """Where :func:`start_proxy` writes the proxy's output for this ledger (file or DSN)."""
    if isinstance(ledger, Path):
        return ledger.with_name(ledger.name + ".log")
    digest = hashlib.sha256(str(ledger).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"cascadeflow-proxy-{digest}.log"


def wait_ready(port: int, process: subprocess.Popen[bytes], timeout: float = 90.0,
               log: Path | None = None) -> None:
    """Wait until the proxy answers its liveness probe; on failure, say why from its log."""
    def why() -> str:
        if log is None or not log.exists():
            return ""
        return "; its last output:\n" + log.read_text(errors="replace")[-2000:]

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the proxy exited (code {process.returncode}) before it was "
                               f"ready{why()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/liveliness", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the proxy did not become ready in {timeout:.0f} s{why()}")


def scrape(metrics_port: int, wanted: str, timeout: float = 30.0) -> list[str]:
    """The /metrics lines starting with ``wanted``, once there are some."""
    deadline = time.monotonic() + timeout
    while True:
        url = f"http://127.0.0.1:{metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as answer:
            lines = [line for line in answer.read().decode().splitlines()
                     if line.startswith(wanted)]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.2)


def main() -> None:
    import openai

    from cascadeflow.storage import SQLiteStore
    from cascadeflow.telemetry import CostTracker

    port, metrics_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as folder:
        ledger = Path(folder) / "ledger.db"
        proxy = start_proxy(ledger, "alice=0.0005,bob=1.0", port, metrics_port)
        try:
            wait_ready(port, proxy, log=log_of(ledger))
            client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}", api_key=MASTER_KEY,
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
            print("Prometheus /metrics of the proxy:")
            for line in scrape(metrics_port, "cascadeflow_budget_decisions_total"):
                print("  " + line.split("{")[0] + " " + line.rsplit(" ", 1)[1] + "  "
                      + line[line.index("cascadeflow_budget_action"):].split(",")[0])
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
