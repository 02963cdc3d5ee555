"""lit-xla against real torch_xla, on XLA's CPU backend (``PJRT_DEVICE=CPU``).

These tests run in ``.venv-xla`` (torch 2.9 + torch_xla 2.9; ``make test`` builds it and runs
them there). Anywhere torch_xla cannot load (the main ``.venv``'s torch 2.13) they are not
collected: ``tests/plugins/xla`` covers that side.

The XLA runtime is started here, before any test runs a backward pass on the CPU: the autograd
engine sizes its device queues on its first use, and an XLA backward in the same process after
that fails (``device_ready_queues_`` assertion), torch_xla imported or not. Runs that need a fresh XLA runtime (SPMD,
``torch_xla.launch``) run as subprocesses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lit_xla import runtime

if runtime.installation_problem() is not None:
    collect_ignore_glob = ["test_*.py"]
else:
    os.environ.setdefault(runtime.PJRT_DEVICE, "CPU")
    import torch_xla

    torch_xla.device()  # the XLA runtime up before any CPU backward (see the module docstring)

SCRIPTS = Path(__file__).parent / "scripts"


@pytest.fixture
def run_script(tmp_path: Path):
    """``run_script(name, *args, env={...})``: run ``scripts/<name>`` in a fresh interpreter with
    ``PJRT_DEVICE=CPU``; return the JSON it wrote to the file given as its first argument."""

    def run(name: str, *args: str, env: dict[str, str] | None = None, timeout: float = 600) -> Any:
        out = tmp_path / f"{name}.json"
        full_env = {key: value for key, value in os.environ.items() if key != runtime.CPU_NUM_DEVICES}
        full_env.update({runtime.PJRT_DEVICE: "CPU", **(env or {})})
        result = subprocess.run([sys.executable, str(SCRIPTS / name), str(out), *args], cwd=tmp_path, env=full_env,
                                capture_output=True, text=True, timeout=timeout)
        assert result.returncode == 0, f"{name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
        return json.loads(out.read_text())

    return run
