"""Several training loaders under DDP: lit-ddp shards each loader of the CombinedLoader."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from ddp_helpers import clean_env

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).with_name("combined_script.py")


def test_each_loader_of_a_dict_is_sharded(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], cwd=tmp_path, env=clean_env(),
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    # b: 16 samples, 8 per process, 4 batches of 2: the epoch; a (8 samples, 4 per process) cycles.
    assert [r["batches"] for r in ranks] == [4, 4] and [r["steps"] for r in ranks] == [8, 8]
    for epoch in range(2):
        b = [r["seen"]["b"][epoch] for r in ranks]
        assert not set(b[0]) & set(b[1]) and sorted(b[0] + b[1]) == list(range(16)), "b: each sample once, split"
        a = [r["seen"]["a"][epoch] for r in ranks]
        assert all(len(seen) == 8 for seen in a), "a: 2 batches per process, cycled to 4"
        assert not set(a[0]) & set(a[1]) and set(a[0]) | set(a[1]) == set(range(8)), "a: split between the processes"
    assert ranks[0]["seen"]["b"][0] != ranks[0]["seen"]["b"][1], "set_epoch reshuffles each inner loader"
