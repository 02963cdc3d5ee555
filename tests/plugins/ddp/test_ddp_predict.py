"""``trainer.predict()`` and a custom ``batch_sampler`` under DDP, in two real processes (gloo)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from ddp_helpers import clean_env

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).with_name("predict_script.py")


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("predict")
    result = subprocess.run([sys.executable, str(SCRIPT), str(out)], cwd=out, env=clean_env(), capture_output=True,
                            text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]


def test_predict_returns_every_process_predictions_in_dataset_order(ranks):
    for report in ranks:
        returned = report["returned"]
        indices = [i for batch in returned for i in batch["index"]]
        assert indices == list(range(10)), "each sample once, in the loader's order, no padding"
        assert [d for batch in returned for d in batch["double"]] == [2.0 * i for i in range(10)]
        # Each process predicted a contiguous block of 5 in batches of 4 + 1.
        assert [batch["index"] for batch in returned] == [[0, 1, 2, 3], [4], [5, 6, 7, 8], [9]]
        assert {batch["device"] for batch in returned} == {"cpu"}


def test_the_prediction_writer_writes_each_process_share(ranks):
    written = [report["written"] for report in ranks]
    assert [w["indices"] for w in written] == [[[0, 1, 2, 3], [4]], [[5, 6, 7, 8], [9]]]
    assert [w["batch_indices"] for w in written] == [[[[0, 1, 2, 3], [4]]], [[[5, 6, 7, 8], [9]]]], \
        "batch_indices are the dataset indices of the process's own batches"


def test_a_custom_batch_sampler_is_sharded_batch_by_batch(ranks):
    per_rank = [report["trained_batches"] for report in ranks]
    for epoch in range(2):
        batches = [per_rank[r][epoch] for r in range(2)]
        assert len(batches[0]) == len(batches[1]) == 3, "6 batches of the sampler: 3 per process"
        together = sorted(sorted(b) for share in batches for b in share)
        assert together == [[0, 2], [1, 3], [4, 6], [5, 7], [8], [9]], "every batch once, kept whole (same parity)"
    assert per_rank[0][0] != per_rank[0][1], "set_epoch reached the batch sampler: another order each epoch"
