"""The docs' doctests: progress bars write to standard output (as Lightning's do), so the
examples run with tqdm's own ``TQDM_DISABLE=1``, which lit-tqdm honours, to keep bar lines
out of their expected output."""

import pytest


@pytest.fixture(autouse=True)
def _no_progress_bars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TQDM_DISABLE", "1")
