"""Export LiteLLM's model map to ``pricing/pricing.json`` (``cascadeflow sync-pricing``).

The output is deterministic (sorted names, one model per line, ``repr`` floats) so that two
runs give identical bytes and ``--check`` can tell whether the committed file is current.
LiteLLM is imported only inside :func:`load_litellm_model_map`.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from cascadeflow._exceptions import PricingError
from cascadeflow.pricing._book import SCHEMA_VERSION, as_price, as_token_limit

#: The LiteLLM modes the pricing file keeps (images, audio, rerank... are priced otherwise).
EXPORTED_MODES = frozenset({"chat", "completion", "embedding"})

DEFAULT_OUTPUT = Path("pricing") / "pricing.json"

# pricing.json field <- LiteLLM model map field
_PRICE_FIELDS = {
    "input_cost_per_token": "input_cost_per_token",
    "output_cost_per_token": "output_cost_per_token",
    "cache_read_cost_per_token": "cache_read_input_token_cost",
    "cache_write_cost_per_token": "cache_creation_input_token_cost",
}
_LIMIT_FIELDS = {"max_input_tokens": "max_input_tokens", "max_output_tokens": "max_output_tokens"}

ExportedModels = dict[str, dict[str, Any]]


class SyncError(PricingError):
    """The model map cannot be exported (unreadable, not a model map, or a bad price)."""


@dataclass(frozen=True, slots=True)
class SyncDiff:
    """How an export differs from the existing pricing file, by model name."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    repriced: tuple[str, ...]

    def summary(self) -> str:
        return (
            f"added {len(self.added)}, removed {len(self.removed)}, repriced {len(self.repriced)}"
        )


def _export_entry(model: str, entry: Mapping[str, Any]) -> dict[str, Any]:
    provider = entry.get("litellm_provider")
    if not isinstance(provider, str) or not provider:
        raise SyncError(f"model {model!r} has no litellm_provider")
    exported: dict[str, Any] = {"provider": provider, "mode": entry["mode"]}
    for ours, theirs in _PRICE_FIELDS.items():
        value = entry.get(theirs)
        if value is None and ours == "output_cost_per_token":
            value = 0.0  # embeddings may omit it: they produce no output tokens
        price = as_price(value)
        if value is not None and price is None:
            raise SyncError(f"model {model!r}: {theirs} must be a number >= 0, got {value!r}")
        exported[ours] = price
    for ours, theirs in _LIMIT_FIELDS.items():
        value = entry.get(theirs)
        limit = as_token_limit(value)
        if value is not None and limit is None:
            raise SyncError(f"model {model!r}: {theirs} must be a whole number >= 0: {value!r}")
        exported[ours] = limit
    return exported


def export_model_map(model_map: object) -> ExportedModels:
    """Select the chat/completion/embedding models with per-token prices from a model map.

    Models priced otherwise (per second, per character, commitments) have no
    ``input_cost_per_token`` and are left out, as are chat and completion models without an
    ``output_cost_per_token``, so nothing is ever priced as zero by omission.

    Example:
        >>> export_model_map({"m": {"litellm_provider": "openai", "mode": "chat",
        ...     "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06}})["m"]["provider"]
        'openai'
    """
    if not isinstance(model_map, Mapping):
        raise SyncError("the model map must be a JSON object of model name -> entry")
    exported: ExportedModels = {}
    for model, entry in model_map.items():
        if not isinstance(model, str) or not isinstance(entry, Mapping):
            continue
        mode = entry.get("mode")
        if mode not in EXPORTED_MODES or entry.get("input_cost_per_token") is None:
            continue
        if mode != "embedding" and entry.get("output_cost_per_token") is None:
            continue  # output priced otherwise: exporting it would bill output as free
        exported[model] = _export_entry(model, entry)
    if not exported:
        raise SyncError("the model map has no chat, completion or embedding model with prices")
    return exported


def render_pricing(models: ExportedModels, litellm_version: str | None) -> str:
    """The pricing file's text: sorted keys, one model per line, floats as ``repr``."""
    lines = [
        "{",
        f'  "litellm_version": {json.dumps(litellm_version)},',
        '  "models": {',
    ]
    names = sorted(models)
    for index, name in enumerate(names):
        body = json.dumps(models[name], sort_keys=True, separators=(", ", ": "))
        comma = "," if index < len(names) - 1 else ""
        lines.append(f"    {json.dumps(name)}: {body}{comma}")
    lines += ["  },", f'  "schema_version": {SCHEMA_VERSION}', "}", ""]
    return "\n".join(lines)


def diff_models(old: Mapping[str, Mapping[str, Any]], new: ExportedModels) -> SyncDiff:
    """Models added, removed, and repriced (any of the four prices changed) from old to new."""
    repriced = tuple(
        sorted(
            name
            for name in set(old) & set(new)
            if any(old[name].get(field) != new[name].get(field) for field in _PRICE_FIELDS)
        )
    )
    return SyncDiff(
        added=tuple(sorted(set(new) - set(old))),
        removed=tuple(sorted(set(old) - set(new))),
        repriced=repriced,
    )


def load_litellm_model_map() -> tuple[Mapping[str, Any], str | None]:
    """LiteLLM's model map and LiteLLM's version (imports LiteLLM: about 3 seconds).

    Unless ``LITELLM_LOCAL_MODEL_COST_MAP`` is set, it is set to ``True`` first, so the map
    is the one bundled with the installed LiteLLM and the export is reproducible. Set it to
    ``False`` to let LiteLLM fetch its newest map from the network instead.
    """
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    model_map: Mapping[str, Any] = litellm.model_cost
    return model_map, importlib.metadata.version("litellm")


def _read_input(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SyncError(f"cannot read model map {path}: {exc}") from exc
    except ValueError as exc:
        raise SyncError(f"model map {path} is not valid JSON: {exc}") from exc


def _existing_models(path: Path, out: TextIO) -> tuple[bytes | None, Mapping[str, Any]]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, {}
    try:
        data = json.loads(raw)
        models = data["models"]
        if not isinstance(models, Mapping):
            raise TypeError("'models' is not an object")
    except (ValueError, KeyError, TypeError) as exc:
        print(f"note: existing {path} is unreadable ({exc}); every model counts as added", file=out)
        return raw, {}
    return raw, models


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory + rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644  # mkstemp's 0o600 would hide a file meant to be shipped and read
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(temp_name, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sync_pricing",
        description="Export LiteLLM's model map (chat, completion and embedding models) "
        "to a deterministic pricing file.",
    )
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help="pricing file (default: %(default)s)"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when the pricing file is out of date",
    )
    parser.add_argument(
        "--input",
        type=Path,
        default=None,
        help="read this model map JSON instead of the installed LiteLLM's",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sync; returns 0 (written / up to date), 1 (``--check``: out of date), 2 (error).

    Example:
        >>> main(["--check"])  # doctest: +SKIP
        pricing/pricing.json is up to date: 3008 models (added 0, removed 0, repriced 0)
        0
    """
    args = _parser().parse_args(None if argv is None else list(argv))
    output: Path = args.output
    try:
        if args.input is not None:
            model_map: object = _read_input(args.input)
            litellm_version: str | None = None
        else:
            model_map, litellm_version = load_litellm_model_map()
        models = export_model_map(model_map)
    except SyncError as exc:
        print(f"error: {exc}; {output} left unchanged", file=sys.stderr)
        return 2

    text = render_pricing(models, litellm_version)
    old_raw, old_models = _existing_models(output, sys.stdout)
    changes = diff_models(old_models, models).summary()
    up_to_date = old_raw == text.encode("utf-8")

    if args.check:
        state = "is up to date" if up_to_date else "is OUT OF DATE"
        print(f"{output} {state}: {len(models)} models ({changes})")
        if not up_to_date:
            print("run `cascadeflow sync-pricing` to update it", file=sys.stderr)
        return 0 if up_to_date else 1

    if not up_to_date:
        write_atomically(output, text)
    print(f"{output}: wrote {len(models)} models ({changes})")
    return 0
