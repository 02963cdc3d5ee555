"""lit-core's wheel alone, in a clean venv that has only torch: a working Trainer on CPU with csv.

Catches a dependency or entry point that only works because the development venv has
everything installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def requirement_closure(name: str) -> set[str]:
    """``name`` and every distribution it needs (no extras), as installed here."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        dist = metadata.distribution(todo.pop())
        key = dist.metadata["Name"].lower()
        if key in seen:
            continue
        seen.add(key)
        for req in dist.requires or []:
            if "extra ==" in req:
                continue
            dep = re.split(r"[\s;<>=!~\[(]", req, maxsplit=1)[0]
            try:
                metadata.distribution(dep)
            except metadata.PackageNotFoundError:
                continue  # an environment marker excluded it here
            todo.append(dep)
    return seen


def link_distribution(name: str, target_site: Path) -> None:
    """Hard-link an installed distribution's files into another site-packages (torch is 700 MB)."""
    dist = metadata.distribution(name)
    for file in dist.files or []:
        src = Path(dist.locate_file(file))
        if not src.is_file():
            continue
        dst = target_site / file
        if ".." in file.parts:
            continue  # console scripts live outside site-packages
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)


def test_core_wheel_alone_trains_on_cpu_with_csv(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(REPO / "core")], check=True)
    (wheel,) = wheels.glob("lit_core-*.whl")

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    for dist in requirement_closure("torch"):
        link_distribution(dist, site)
    assert sysconfig.get_paths()["purelib"] != str(site)

    # lit-core's own requirements (pluggy, pyyaml) must come from its metadata, not from this venv.
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], check=True)
    installed = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True, check=True).stdout
    assert "lit-core==" in installed and "pluggy==" in installed.lower()
    assert "lit-tqdm" not in installed and "lit-tensorboard" not in installed

    script = textwrap.dedent(f"""
        import csv, os, torch
        import lit_core as lit
        from torch.utils.data import DataLoader, TensorDataset

        class M(lit.LightningModule):
            def __init__(self):
                super().__init__()
                self.layer = torch.nn.Linear(4, 1)
            def training_step(self, batch, batch_idx):
                loss = ((self.layer(batch[0]) - batch[1]) ** 2).mean()
                self.log("loss", loss)
                return loss
            def configure_optimizers(self):
                return torch.optim.SGD(self.parameters(), lr=0.1)

        data = DataLoader(TensorDataset(torch.randn(32, 4), torch.randn(32, 1)), batch_size=4)
        trainer = lit.Trainer(max_epochs=2, log_every_n_steps=2, default_root_dir={str(tmp_path / "run")!r})
        assert trainer.accelerator.name == "cpu", trainer.accelerator
        assert type(trainer.logger).__name__ == "CSVLogger", trainer.loggers
        trainer.fit(M(), data)
        rows = list(csv.DictReader(open(os.path.join(trainer.log_dir, "metrics.csv"))))
        print("rows", len(rows), "steps", trainer.global_step, "dir", trainer.log_dir)

        # Lightning's namespaces with lit-core alone: its own names resolve, the others say what to install.
        from lit_core.loggers import CSVLogger
        from lit_core.accelerators import CPUAccelerator
        assert type(trainer.logger) is CSVLogger and type(trainer.accelerator) is CPUAccelerator
        assert trainer.checkpoint_callback is None and trainer.early_stopping_callback is None
        try:
            from lit_core.callbacks import ModelCheckpoint
        except ImportError as exc:
            print("missing:", exc)
    """)
    result = subprocess.run([str(python), "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"rows 8 steps 16 dir {tmp_path / 'run' / 'lightning_logs' / 'version_0'}" in result.stdout
    assert "missing: ModelCheckpoint is in lit-checkpoint: pip install lit-checkpoint" in result.stdout

    listing = subprocess.run([str(venv / "bin" / "lit"), "plugins", "--json"], capture_output=True, text=True, check=True).stdout
    distributions = {row["distribution"] for row in json.loads(listing)}
    assert distributions == {"lit-core"}
    check = subprocess.run([str(venv / "bin" / "lit"), "plugins", "--check"], capture_output=True, text=True)
    assert check.returncode == 0 and "no problems" in check.stdout, check.stdout + check.stderr
