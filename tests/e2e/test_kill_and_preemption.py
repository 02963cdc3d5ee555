"""Real processes, really killed: SIGKILL at any moment, SIGTERM / SIGUSR1 preemption, SLURM requeue.

Each test runs ``resumable.py`` (a training script checkpointing every step with lit-checkpoint's
``ModelCheckpoint``) as a child process, stops it from outside, resumes it with
``ckpt_path="last"`` and compares the final parameters with a run that was never stopped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).with_name("resumable.py")
STEPS = 30  # 3 epochs of 10 batches


def start(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(SCRIPT), str(root), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, **(env or {})})


def run(root: Path, *args: str, env: dict[str, str] | None = None) -> str:
    process = start(root, *args, env=env)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, f"exit {process.returncode}\n{out}\n{err}"
    return out


def wait_for_step(process: subprocess.Popen[str], step: int) -> list[str]:
    """Read the child's output until it reports ``step``; the lines read."""
    assert process.stdout is not None
    lines = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.strip())
        if line.strip() == f"step {step}":
            return lines
    process.kill()
    raise AssertionError(f"the child never reported step {step}: {lines}\n{process.stderr.read() if process.stderr else ''}")


def final(root: Path) -> dict[str, torch.Tensor]:
    return torch.load(root / "final.pt", weights_only=True)


def assert_identical(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), f"{name} differs from the uninterrupted run"


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, torch.Tensor]:
    root = tmp_path_factory.mktemp("uninterrupted")
    assert f"done {STEPS}" in run(root)
    return final(root)


def checkpoints_load(folder: Path) -> list[str]:
    """Every ``*.ckpt`` in ``folder`` loads with ``weights_only=True``; their names."""
    names = sorted(p.name for p in folder.glob("*.ckpt"))
    for name in names:
        torch.load(folder / name, weights_only=True)
    return names


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [4, 13])
def test_sigkill_mid_epoch_then_resume_is_bitwise_identical(tmp_path, reference, kill_after):
    process = start(tmp_path)
    wait_for_step(process, kill_after)
    process.kill()  # SIGKILL: no handler, no cleanup
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert "last.ckpt" in checkpoints_load(tmp_path / "checkpoints")

    out = run(tmp_path, "--resume")
    first = next(line for line in out.splitlines() if line.startswith("step "))
    assert int(first.split()[1]) > kill_after, "resumed after the last saved step, not from the start"
    assert f"done {STEPS}" in out
    assert_identical(final(tmp_path), reference)


@pytest.mark.slow
def test_sigkill_during_writes_never_leaves_a_broken_checkpoint(tmp_path):
    """A 24 MB checkpoint written every step, killed at staggered moments: every .ckpt file still loads."""
    for delay in (0.0, 0.05, 0.12, 0.2, 0.33):
        process = start(tmp_path, "--mb", "24", "--resume")
        assert process.stdout is not None
        first = process.stdout.readline()  # training (and saving every step) has begun
        assert first.startswith("step "), first + (process.stderr.read() if process.stderr else "")
        time.sleep(delay)
        process.kill()
        process.wait(timeout=60)
        names = checkpoints_load(tmp_path / "checkpoints") if (tmp_path / "checkpoints").exists() else []
        assert all(name == "last.ckpt" or name.startswith("epoch=") for name in names), names
    assert "last.ckpt" in checkpoints_load(tmp_path / "checkpoints")


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGUSR1], ids=["SIGTERM", "SIGUSR1"])
def test_preemption_signal_saves_last_and_exits_cleanly(tmp_path, reference, signum):
    process = start(tmp_path, "--step-delay", "0.05")
    wait_for_step(process, 7)
    process.send_signal(signum)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, f"a clean exit after saving:\n{out}\n{err}"
    assert f"{signal.Signals(signum).name} received: saved" in out + err
    assert "done" not in out, "the run stopped instead of finishing"
    saved = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    stopped_at = max(int(line.split()[1]) for line in out.splitlines() if line.startswith("step ")) if out else 7
    assert saved["global_step"] >= 7 and saved["global_step"] <= stopped_at + 1

    resumed = run(tmp_path, "--resume")
    assert f"done {STEPS}" in resumed
    assert_identical(final(tmp_path), reference)


@pytest.mark.slow
def test_preemption_under_slurm_requeues_the_job(tmp_path, reference):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "scontrol-calls.txt"
    scontrol = bin_dir / "scontrol"
    scontrol.write_text(f"#!/bin/sh\necho \"$@\" >> {calls}\n")
    scontrol.chmod(0o755)
    env = {"SLURM_JOB_ID": "4242", "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    process = start(tmp_path, "--step-delay", "0.05", env=env)
    wait_for_step(process, 12)
    process.send_signal(signal.SIGUSR1)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, f"{out}\n{err}"
    assert calls.read_text().split() == ["requeue", "4242"]
    assert "Requeued SLURM job 4242" in out + err

    assert f"done {STEPS}" in run(tmp_path, "--resume", env=env)
    assert_identical(final(tmp_path), reference)
