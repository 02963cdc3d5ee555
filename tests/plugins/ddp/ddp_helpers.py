"""Running ``train_script.py`` in real processes (gloo on CPU) and reading what each wrote.

``conftest.py`` turns ``run_job`` into a fixture; tests import ``Run`` and ``load_script`` from here.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("train_script.py")


def load_script() -> Any:
    """``train_script`` as a module (for ``reference`` and ``Indexed``)."""
    spec = importlib.util.spec_from_file_location("ddp_train_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any rank variable a surrounding launcher may have set."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "NODE_RANK", "GROUP_RANK", "MASTER_ADDR", "MASTER_PORT",
                        "TORCHELASTIC_RUN_ID", "LIT_DDP_LAUNCHED", "LIT_DDP_PARENT_PID", "LIT_DDP_ERROR_FILE")
           and not k.startswith("SLURM_")}
    env.update(OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", **extra)
    return env


class Run:
    """One job's output folder, and the process(es) that ran it."""

    def __init__(self, out: Path, results: list[subprocess.CompletedProcess[str]], seconds: float) -> None:
        self.out = out
        self.results = results
        self.seconds = seconds

    @property
    def stderr(self) -> str:
        return "".join(r.stderr for r in self.results)

    def check(self) -> Run:
        for r in self.results:
            assert r.returncode == 0, f"exit code {r.returncode}\n--- stdout\n{r.stdout}\n--- stderr\n{r.stderr}"
        return self

    def json(self, name: str) -> dict[str, Any]:
        return json.loads((self.out / name).read_text())

    def lines(self, name: str) -> list[str]:
        path = self.out / name
        return path.read_text().splitlines() if path.exists() else []


def job_runner(tmp_path: Path) -> Callable[..., Run]:
    """``run(config, launcher=..., nodes=1)``: run the script in ``tmp_path``, return its ``Run``.

    ``launcher`` is the command before the script (``[python]`` or torchrun's). ``nodes=2``
    starts two ``python train.py`` processes with NODE_RANK 0 and 1 meeting on 127.0.0.1.
    """

    def run(config: dict[str, Any], launcher: list[str] | None = None, nodes: int = 1, timeout: float = 180) -> Run:
        out = tmp_path / "out"
        out.mkdir(exist_ok=True)
        script = tmp_path / "train.py"
        shutil.copy(SCRIPT, script)
        command = [*(launcher or [sys.executable]), str(script), str(out), json.dumps(config)]
        start = time.monotonic()
        if nodes == 1:
            procs = [subprocess.Popen(command, cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)]
        else:
            port = str(free_port())
            procs = [subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      env=clean_env(MASTER_ADDR="127.0.0.1", MASTER_PORT=port, NODE_RANK=str(node)))
                     for node in range(nodes)]
        results = []
        for proc in procs:
            try:
                stdout, stderr = proc.communicate(timeout=max(timeout - (time.monotonic() - start), 1))
            except subprocess.TimeoutExpired:
                for p in procs:
                    p.kill()
                raise
            results.append(subprocess.CompletedProcess(command, proc.returncode, stdout, stderr))
        return Run(out, results, time.monotonic() - start)

    return run
