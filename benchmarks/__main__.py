"""Run every benchmark module (``bench_*.py``) in turn: ``python -m benchmarks [name ...]``."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def main() -> None:
    wanted = set(sys.argv[1:])
    for path in sorted(Path(__file__).parent.glob("bench_*.py")):
        if wanted and path.stem not in wanted and path.stem.removeprefix("bench_") not in wanted:
            continue
        module = importlib.import_module(f"benchmarks.{path.stem}")
        module.main()


if __name__ == "__main__":
    main()
