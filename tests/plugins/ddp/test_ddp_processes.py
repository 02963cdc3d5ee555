"""DDP in real processes on CPU (gloo): the launchers, the data split, the collectives, the
rank-zero side effects, failures. Each test runs ``train_script.py`` (see its docstring) and
reads what every process wrote; ``reference`` there is the single-process run it must match.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from ddp_helpers import Run, load_script

pytestmark = pytest.mark.slow

script = load_script()
TWO_PROCESSES = {"strategy": "ddp", "devices": 2}


def flat(params: list) -> list[float]:
    """The weight (a list of rows) and the bias of the linear layer, as one list."""
    weight, bias = params
    return [v for row in weight for v in row] + bias


def assert_same_params(actual: list, expected: list) -> None:
    assert flat(actual) == pytest.approx(flat(expected), abs=1e-5), "equal to 5 decimals"


def check_training(run: Run, config: dict, ranks: int = 2) -> list[dict]:
    """What every launcher must give: equal ranks, the single-process result, each sample once per epoch,
    synced metrics, working collectives."""
    inside = [run.json(f"inside_rank{r}.json") for r in range(ranks)]
    expected = script.reference(config)
    for r, report in enumerate(inside):
        assert report["rank"] == r and report["world_size"] == ranks
        assert_same_params(report["params"], expected)
        assert report["model"] == "DistributedDataParallel" and report["backend"] == "gloo"
        # self.log(..., sync_dist=True): reduced over the ranks (sum and max of the ranks, 4 batches an epoch).
        assert report["metrics"]["rank_sum"] == 4 * sum(range(ranks))
        assert report["metrics"]["rank_max"] == ranks - 1
        assert report["metrics"]["rank_step"] == sum(range(ranks)), "a step value is reduced when logged"
        # Validation is split too (10 samples, padded to an equal share), and summed back.
        assert report["metrics"]["val_count"] == 10 + (-10 % ranks)
        assert report["metrics"]["val_loss"] == inside[0]["metrics"]["val_loss"]
        # trainer.strategy's collectives.
        assert report["gather"] == [[i] for i in range(ranks)]
        assert report["broadcast"] == "from rank 1"
        assert report["broadcast_none"] is None, "src's None wins over this rank's own value"
        assert report["reduce_mean"] == pytest.approx(sum(range(ranks)) / ranks)
    for epoch in range(config.get("epochs", 2)):
        seen = [i for report in inside for batch in report["seen"] if batch[0] == epoch for i in batch[1:]]
        assert sorted(seen) == list(range(script.TRAIN_SIZE)), f"epoch {epoch}: every sample exactly once"
    orders = [[i for b in inside[0]["seen"] if b[0] == epoch for i in b[1:]] for epoch in range(2)]
    assert orders[0] != orders[1], "set_epoch reshuffles each epoch"
    after = [run.json(f"after_rank{r}.json") for r in range(ranks) if (run.out / f"after_rank{r}.json").exists()]
    assert after, "the end of the script was reached"
    for report in after:
        assert_same_params(report["params"], expected)
        assert report["tested"] == after[0]["tested"], "the best checkpoint, saved by rank 0, loaded by every rank"
    return inside


def check_rank_zero_writes(run: Run) -> None:
    writes = run.lines("writes.txt")
    assert writes and all(line.split()[0] == "0" for line in writes), f"only rank 0 writes: {writes}"
    assert {line.split()[1] for line in writes} == {"checkpoint", "metrics"}
    versions = sorted(p.name for p in (run.out / "lightning_logs").iterdir())
    assert versions == ["version_0"], "one csv log folder for the whole job"
    assert list((run.out / "lightning_logs" / "version_0" / "checkpoints").glob("*.ckpt"))
    events = list((run.out / "lightning_logs" / "version_0").glob("events.out.tfevents.*"))
    assert len({name.name.split(".")[-2] for name in events}) <= 1, f"TensorBoard files from one process: {events}"


def test_plain_python_launcher(run_job):
    """`python train.py`: lit starts the second process itself; gradient accumulation skips the sync."""
    config = {**TWO_PROCESSES, "accumulate": 2}
    run = run_job(config).check()
    inside = check_training(run, config)
    # Freed before the group is destroyed: a wrapper left to the finalizers aborts a rank at exit (signal 6).
    assert [run.json(f"teardown_rank{r}.json")["ddp_wrappers_alive"] for r in range(2)] == [0, 0]
    # 4 batches an epoch, accumulate 2: DDP all-reduces on the 2 stepping batches only (no_sync).
    assert [report["syncs"] for report in inside] == [4, 4]
    check_rank_zero_writes(run)
    assert run.lines("prepare_data.txt") == ["fit 0", "test 0"], "once per stage on the node, by local rank 0"


def test_torchrun(run_job):
    """`torchrun --nproc_per_node 2 train.py`: lit joins the processes torchrun started (TensorBoard
    logger, a parameter without gradient)."""
    config = {"strategy": "ddp_find_unused_parameters_true", "devices": 2, "unused": True, "logger": "tensorboard"}
    run = run_job(config, launcher=[sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"])
    run.check()
    check_training(run, config)
    check_rank_zero_writes(run)


def test_ddp_spawn(run_job):
    """`strategy="ddp_spawn"`: processes from torch.multiprocessing; the trained weights come back."""
    config = {"strategy": "ddp_spawn", "devices": 2}
    run = run_job(config).check()
    check_training(run, config)
    assert not (run.out / "after_rank1.json").exists(), "the end of the script runs in the first process only"
    after = run.json("after_rank0.json")
    assert (after["global_step"], after["current_epoch"]) == (8, 2)
    check_rank_zero_writes(run)


def test_two_nodes(run_job):
    """Two "nodes" of one process each, started separately with NODE_RANK 0 and 1."""
    config = {"strategy": "ddp", "devices": 1, "num_nodes": 2, "prepare_data_per_node": False}
    run = run_job(config, nodes=2).check()
    check_training(run, config)
    check_rank_zero_writes(run)
    assert run.lines("prepare_data.txt") == ["fit 0", "test 0"], "prepare_data_per_node=False: once per job"


@pytest.mark.parametrize("fail_rank", [1, 0])
def test_failure_ends_every_process(run_job, fail_rank):
    """An exception on one rank at step 3: every process exits non-zero, the error is shown once."""
    run = run_job({**TWO_PROCESSES, "fail_at": 3, "fail_rank": fail_rank}, timeout=120)
    assert run.results[0].returncode != 0
    assert run.seconds < 60
    error = f"RuntimeError: deliberate failure on rank {fail_rank} at step 3"
    assert run.stderr.count(error) == 1, run.stderr
    if fail_rank == 1:  # the started process's traceback comes in the first process's report, not twice
        report = "ProcessFailedError: Local rank 1 (global rank 1) failed with exit code 1"
        assert report in run.stderr and run.stderr.index(report) < run.stderr.index(error), run.stderr
    assert not (run.out / "after_rank0.json").exists() and not (run.out / "after_rank1.json").exists()
    leftover = subprocess.run(["pgrep", "-f", str(run.out)], capture_output=True, text=True).stdout
    assert leftover == "", "no process of the job is left"


def test_unused_parameters_need_the_strategy(run_job):
    """A parameter without gradient fails plain DDP with torch's advice (the torchrun test trains it
    with ``ddp_find_unused_parameters_true``)."""
    run = run_job({**TWO_PROCESSES, "unused": True, "epochs": 1})
    assert run.results[0].returncode != 0
    assert "find_unused_parameters" in run.stderr


@pytest.mark.parametrize(("environment", "launcher"), [
    ("LightningEnvironment", None),
    ("TorchElasticEnvironment", [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]),
])
def test_explicit_cluster_environment(run_job, environment, launcher):
    """`Trainer(plugins=[LightningEnvironment()])` / `[TorchElasticEnvironment()]`: the given environment places
    the processes instead of lit's detection, and is the strategy's `cluster_environment`."""
    config = {**TWO_PROCESSES, "environment": environment, "epochs": 2}
    run = run_job(config, launcher=launcher).check()
    inside = check_training(run, config)
    assert [report["environment"] for report in inside] == [environment, environment]


def stopped_at(run: Run) -> list[dict]:
    return [run.json(f"stopped_rank{r}.json") for r in range(2)]


def test_preemption_of_one_rank_stops_every_rank_at_the_same_step(run_job):
    """SIGTERM to rank 1 alone: the flag's reduction (asynchronous, read at the next check) stops both ranks
    at the same step; `last` is saved there and both processes exit 0. Checked every step here."""
    config = {**TWO_PROCESSES, "epochs": 4, "signal_at": 3, "signal_rank": 1, "check_every_s": 0}
    run = run_job(config).check()
    stopped = stopped_at(run)
    assert [s["exception"] for s in stopped] == ["SystemExit", "SystemExit"]
    # Signalled in step 4's training_step: that step's check starts the reduction, the next one reads it.
    assert [s["global_step"] for s in stopped] == [5, 5]
    last = list(run.out.rglob("last.ckpt"))
    assert len(last) == 1 and torch.load(last[0], weights_only=False)["global_step"] == 5
    assert not (run.out / "after_rank0.json").exists(), "the script ended at the preemption"


def test_preemption_checks_are_spaced_alike_on_every_rank(run_job):
    """The default check interval follows the slowest rank's time per step (0.1 s here: a check about every
    0.5 s, so every 4-5 steps on an idle machine), the same on both ranks; the stop comes within two intervals."""
    config = {**TWO_PROCESSES, "epochs": 6, "signal_at": 6, "signal_rank": 1, "step_delay": 0.1}
    run = run_job(config).check()
    stopped = stopped_at(run)
    assert stopped[0]["global_step"] == stopped[1]["global_step"]
    assert stopped[0]["interval"] == stopped[1]["interval"] and 1 <= stopped[0]["interval"] <= 5
    assert 7 <= stopped[0]["global_step"] <= 7 + 2 * stopped[0]["interval"]
