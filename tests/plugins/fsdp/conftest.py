"""The ``run_fsdp`` fixture: run ``fsdp_script.py`` in real processes (gloo on CPU).

The process runner is lit-ddp's test harness (``tests/plugins/ddp/ddp_helpers.py``), loaded under its own
name and pointed at this folder's script.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

_HELPERS = Path(__file__).parents[1] / "ddp" / "ddp_helpers.py"


def _ddp_helpers() -> Any:
    spec = importlib.util.spec_from_file_location("fsdp_ddp_helpers", _HELPERS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.SCRIPT = Path(__file__).with_name("fsdp_script.py")
    return module


@pytest.fixture
def run_fsdp(tmp_path: Path) -> Callable[..., list[dict[str, Any]]]:
    """``run_fsdp(config)``: run the script with ``config`` in ``tmp_path`` (``num_nodes`` > 1: one launch per node) and return the results of each rank
    that reached the script's end (``tmp_path / "out"`` holds what it saved); a failed process fails the test
    with its output."""
    run = _ddp_helpers().job_runner(tmp_path)

    def go(config: dict[str, Any], timeout: float = 120) -> list[dict[str, Any]]:
        nodes = config.get("num_nodes", 1)
        out = tmp_path / "out"
        for old in out.glob("rank*.json"):
            old.unlink()
        run(config, nodes=nodes, timeout=timeout).check()
        # A preempted job's processes leave before the end of the script: they report nothing.
        return [json.loads(path.read_text()) for r in range(config.get("devices", 2) * nodes) if (path := out / f"rank{r}.json").exists()]

    return go
