"""The ``run_job`` fixture: run ``train_script.py`` in real processes (see ``ddp_helpers``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from ddp_helpers import Run, job_runner


@pytest.fixture
def run_job(tmp_path: Path) -> Callable[..., Run]:
    """``run_job(config, launcher=[...], nodes=1)``: run the script in ``tmp_path``; returns its ``Run``."""
    return job_runner(tmp_path)
