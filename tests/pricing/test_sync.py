"""sync_pricing: deterministic export of LiteLLM's model map, --check, counts, safe writes."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cascadeflow import DEFAULT_DEGRADATION_MAP
from cascadeflow.pricing import PriceBook, _sync
from cascadeflow.pricing._sync import main

REPO_ROOT = Path(__file__).resolve().parents[2]
WriteJson = Callable[[str, object], Path]


def _sync_to(input_path: Path, output: Path, *extra: str) -> int:
    return main(["--input", str(input_path), "--output", str(output), *extra])


def test_two_runs_give_identical_bytes(
    model_map: dict[str, Any], write_json: WriteJson, tmp_path: Path
) -> None:
    source = write_json("map.json", model_map)
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    assert _sync_to(source, first) == 0
    assert _sync_to(source, second) == 0
    assert first.read_bytes() == second.read_bytes()


def test_output_does_not_depend_on_the_maps_key_order(model_map: dict[str, Any]) -> None:
    reversed_map = dict(reversed(list(model_map.items())))
    forward = _sync.render_pricing(_sync.export_model_map(model_map), "1.0")
    backward = _sync.render_pricing(_sync.export_model_map(reversed_map), "1.0")
    assert forward == backward


def test_export_keeps_priced_chat_completion_and_embedding_models_only(
    model_map: dict[str, Any], write_json: WriteJson, tmp_path: Path
) -> None:
    output = tmp_path / "pricing.json"
    assert _sync_to(write_json("map.json", model_map), output) == 0
    data = json.loads(output.read_text(encoding="utf-8"))
    assert data["schema_version"] == 1
    assert data["litellm_version"] is None  # an --input map is not LiteLLM's
    assert sorted(data["models"]) == [
        "claude-haiku-4-5",
        "gpt-4o",
        "groq/llama-3.1-8b-instant",
        "text-embedding-3-small",
    ]
    assert data["models"]["gpt-4o"] == {
        "provider": "openai",
        "mode": "chat",
        "input_cost_per_token": 2.5e-06,
        "output_cost_per_token": 1e-05,
        "cache_read_cost_per_token": 1.25e-06,
        "cache_write_cost_per_token": None,
        "max_input_tokens": 128000,
        "max_output_tokens": 16384,
    }
    assert data["models"]["claude-haiku-4-5"]["cache_write_cost_per_token"] == 1.25e-06
    assert data["models"]["text-embedding-3-small"]["output_cost_per_token"] == 0.0


def test_written_file_is_a_loadable_price_book(
    model_map: dict[str, Any], write_json: WriteJson, tmp_path: Path
) -> None:
    output = tmp_path / "pricing.json"
    _sync_to(write_json("map.json", model_map), output)
    book = PriceBook.load(output)
    assert book.estimate_cost_nanos("gpt-4o", 1000, 200) == 4_500_000
    assert book.get("llama-3.1-8b-instant").provider == "groq"


def test_check_passes_when_current_and_fails_when_stale_or_missing(
    model_map: dict[str, Any], write_json: WriteJson, tmp_path: Path
) -> None:
    output = tmp_path / "pricing.json"
    source = write_json("map.json", model_map)
    assert _sync_to(source, output, "--check") == 1  # missing
    assert not output.exists()  # --check writes nothing
    assert _sync_to(source, output) == 0
    assert _sync_to(source, output, "--check") == 0
    model_map["gpt-4o"]["output_cost_per_token"] = 1.2e-05
    stale_source = write_json("map2.json", model_map)
    before = output.read_bytes()
    assert _sync_to(stale_source, output, "--check") == 1
    assert output.read_bytes() == before


def test_every_run_prints_added_removed_and_repriced_counts(
    model_map: dict[str, Any],
    write_json: WriteJson,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    output = tmp_path / "pricing.json"
    assert _sync_to(write_json("old.json", model_map), output) == 0
    assert "added 4, removed 0, repriced 0" in capsys.readouterr().out

    model_map["gpt-4o"]["input_cost_per_token"] = 2e-06  # repriced
    model_map["claude-haiku-4-5"]["cache_read_input_token_cost"] = 1e-07  # repriced (cache)
    model_map["gpt-4o"]["max_output_tokens"] = 32768  # a limit change is not a reprice
    del model_map["groq/llama-3.1-8b-instant"]  # removed
    model_map["deepseek-chat"] = {  # added
        "litellm_provider": "deepseek",
        "mode": "chat",
        "input_cost_per_token": 2.8e-07,
        "output_cost_per_token": 4.2e-07,
    }
    new_source = write_json("new.json", model_map)
    assert _sync_to(new_source, output, "--check") == 1
    assert "added 1, removed 1, repriced 2" in capsys.readouterr().out
    assert _sync_to(new_source, output) == 0
    assert "added 1, removed 1, repriced 2" in capsys.readouterr().out
    assert _sync_to(new_source, output) == 0
    assert "added 0, removed 0, repriced 0" in capsys.readouterr().out


@pytest.mark.parametrize(
    "corrupt_text",
    [
        '{"gpt-4o": {"litellm_provider": "openai", ',  # truncated JSON
        "[1, 2, 3]",  # not a model map
        "{}",  # no models at all
        json.dumps(
            {
                "gpt-4o": {
                    "litellm_provider": "openai",
                    "mode": "chat",
                    "input_cost_per_token": "free",
                    "output_cost_per_token": 1e-05,
                }
            }
        ),
        json.dumps(
            {
                "gpt-4o": {
                    "litellm_provider": "openai",
                    "mode": "chat",
                    "input_cost_per_token": -1.0,
                    "output_cost_per_token": 1e-05,
                }
            }
        ),
        json.dumps({"gpt-4o": {"mode": "chat", "input_cost_per_token": 1e-06}}),  # no provider
    ],
)
def test_corrupt_input_is_a_clear_error_and_leaves_the_file_untouched(
    corrupt_text: str,
    model_map: dict[str, Any],
    write_json: WriteJson,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    output = tmp_path / "out" / "pricing.json"
    assert _sync_to(write_json("good.json", model_map), output) == 0
    before = output.read_bytes()
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text(corrupt_text, encoding="utf-8")
    capsys.readouterr()

    assert _sync_to(corrupt, output) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "left unchanged" in err
    assert output.read_bytes() == before
    assert os.listdir(output.parent) == ["pricing.json"]  # no temporary file left behind


def test_missing_input_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _sync_to(tmp_path / "nope.json", tmp_path / "pricing.json") == 2
    assert "cannot read model map" in capsys.readouterr().err
    assert not (tmp_path / "pricing.json").exists()


def test_a_failed_rename_leaves_the_old_file_and_no_temp_file(
    model_map: dict[str, Any],
    write_json: WriteJson,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    output = tmp_path / "pricing.json"
    assert _sync_to(write_json("map.json", model_map), output) == 0
    before = output.read_bytes()
    model_map["gpt-4o"]["input_cost_per_token"] = 9e-06

    def failing_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(_sync.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        _sync_to(write_json("new.json", model_map), output)
    assert output.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["map.json", "new.json", "pricing.json"]


def test_written_file_is_readable_by_others(
    model_map: dict[str, Any], write_json: WriteJson, tmp_path: Path
) -> None:
    output = tmp_path / "pricing.json"
    _sync_to(write_json("map.json", model_map), output)
    assert output.stat().st_mode & 0o044 == 0o044


def test_script_runs_from_the_checkout(
    model_map: dict[str, Any], write_json: WriteJson, tmp_path: Path
) -> None:
    output = tmp_path / "pricing.json"
    result = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "scripts" / "sync_pricing.py"),
            "--input",
            str(write_json("map.json", model_map)),
            "--output",
            str(output),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "wrote 4 models (added 4, removed 0, repriced 0)" in result.stdout
    assert PriceBook.load(output).get("gpt-4o").provider == "openai"


def _pinned_litellm() -> str:
    """The LiteLLM version ``constraints.txt`` pins (the one CI and pricing.json use)."""
    for line in (REPO_ROOT / "constraints.txt").read_text().splitlines():
        name, _, version = line.partition("==")
        if name.strip().lower() == "litellm":
            return version.strip()
    raise AssertionError("constraints.txt does not pin litellm")


def test_committed_pricing_file_is_exported_from_the_pinned_litellm() -> None:
    committed = json.loads((REPO_ROOT / "pricing" / "pricing.json").read_text())
    assert committed["litellm_version"] == _pinned_litellm()


def test_committed_pricing_file_matches_the_installed_litellm(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    installed = importlib.metadata.version("litellm")
    if installed != _pinned_litellm():
        pytest.skip(f"pricing.json is exported from the pinned LiteLLM {_pinned_litellm()}; "
                    f"this run uses LiteLLM {installed} (checked in the pinned run)")
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    committed = REPO_ROOT / "pricing" / "pricing.json"
    assert main(["--check", "--output", str(committed)]) == 0, capsys.readouterr()


def test_installed_litellm_map_exports_a_price_book_for_every_default_model(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Whatever LiteLLM is installed (the pin or the newest release), its map must export
    # and price every model the default degradation chains name.
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    output = tmp_path / "pricing.json"
    assert main(["--output", str(output)]) == 0
    book = PriceBook.load(output)
    assert json.loads(output.read_text())["litellm_version"] == importlib.metadata.version(
        "litellm")
    for model in {*DEFAULT_DEGRADATION_MAP, *DEFAULT_DEGRADATION_MAP.values()} - {None}:
        assert book.estimate_cost(model, 1_000, 1_000) > 0, model
