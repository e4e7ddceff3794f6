#!/usr/bin/env python3
"""Write pricing/pricing.json from LiteLLM's model map (same as `cascadeflow sync-pricing`).

Usage: scripts/sync_pricing.py [--output PATH] [--check] [--input MODEL_MAP.json]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run from a checkout without installing: make the repository's package importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cascadeflow.pricing._sync import main

if __name__ == "__main__":
    sys.exit(main())
