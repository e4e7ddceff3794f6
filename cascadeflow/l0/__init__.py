"""Stream reliability for LLM token streams (placeholder until the L0 runtime lands)."""
