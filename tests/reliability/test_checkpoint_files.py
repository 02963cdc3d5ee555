"""Issue 14, checkpoint files: cases 1, 2, 9, 11 and 14 (writing, reading, and the errors of both).

Real files, real full disks (a 1 MiB tmpfs, root only), real subprocesses and signals.
"""

from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

import lit_core as lit
from lit_core.checkpoint import load
from lit_core.exceptions import CheckpointError


def quiet(root: Path, callbacks: list | None = None, **flags) -> lit.Trainer:
    return lit.Trainer(default_root_dir=root, logger=False, enable_progress_bar=False, enable_model_summary=False,
                       callbacks=callbacks or [], **flags)


def saved_checkpoint(root: Path, boring_model, name: str = "real.ckpt") -> Path:
    trainer = quiet(root, max_epochs=1, enable_checkpointing=False)
    trainer.fit(boring_model())
    trainer.save_checkpoint(root / name)
    return root / name


def run_script(source: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(source), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})


# ------------------------------------------------------------------------------------------
# Case 1: AsyncCheckpointIO + SIGTERM whose background write fails
# ------------------------------------------------------------------------------------------

PREEMPTED = '''
    import sys, time
    import torch
    from torch.utils.data import DataLoader, TensorDataset
    import lit_core as lit
    from lit_checkpoint import ModelCheckpoint

    class Net(lit.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(4, 400)  # with Adam's state, a checkpoint of ~2 MB
            self.wide = torch.nn.Linear(400, 400)

        def training_step(self, batch, batch_idx):
            x, y = batch
            return torch.nn.functional.mse_loss(self.wide(self.layer(x)).sum(1, keepdim=True), y)

        def on_train_batch_end(self, outputs, batch, batch_idx):
            print(f"step {self.trainer.global_step}", flush=True)
            time.sleep(0.05)

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=1e-3)

    folder = sys.argv[1]
    data = TensorDataset(torch.randn(64, 4), torch.randn(64, 1))
    trainer = lit.Trainer(max_epochs=1000, logger=False, enable_progress_bar=False, enable_model_summary=False,
                          default_root_dir=folder,
                          callbacks=[ModelCheckpoint(dirpath=folder, save_top_k=0, async_save=True)])
    trainer.fit(Net(), DataLoader(data, batch_size=8))
'''


def _preempt(folder: Path, prelude: str = "", env: dict[str, str] | None = None) -> tuple[int, str, str]:
    process = run_script(prelude + textwrap.dedent(PREEMPTED), str(folder), env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        assert line, f"the script ended early:\n{process.stderr.read()}"
        if line.strip() == "step 3":
            break
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


@pytest.mark.slow
def test_case_01_failed_async_preemption_save_exits_nonzero_without_saying_saved(full_disk, full_disk_prelude):
    small_disk = full_disk.folder  # tmpfs: 1 MiB cannot hold the ~2 MB checkpoint; fsync: fails with ENOSPC
    code, out, err = _preempt(small_disk, full_disk_prelude, full_disk.env)
    assert code != 0, f"a preemption save that failed exited {code}:\n{out}\n{err}"
    assert "received: saved" not in out + err, f"'saved' printed for a failed save:\n{out}\n{err}"
    assert f"no space left on {small_disk}" in err, err
    assert not (small_disk / "last.ckpt").exists()


@pytest.mark.slow
def test_case_01_async_preemption_save_says_saved_once_the_file_is_on_disk(tmp_path):
    code, out, err = _preempt(tmp_path)
    assert code == 0, f"{out}\n{err}"
    assert "SIGTERM received: saved" in out + err
    assert torch.load(tmp_path / "last.ckpt", weights_only=True)["global_step"] >= 4


# ------------------------------------------------------------------------------------------
# Case 2: cleaning up temporary files never deletes another live process's
# ------------------------------------------------------------------------------------------

PAUSED_WRITER = '''
    import os, sys, time
    import torch
    from lit_core.builtins.defaults import atomic_save

    folder = sys.argv[1]
    real_fsync = os.fsync
    paused = []

    def fsync_after_go(fd):
        # The write is complete; pause before the rename, as a slow disk or a large checkpoint would.
        if not paused:
            paused.append(True)
            open(os.path.join(folder, "..", "ready"), "w").close()
            while not os.path.exists(os.path.join(folder, "..", "go")):
                time.sleep(0.02)
        real_fsync(fd)

    os.fsync = fsync_after_go
    atomic_save({"state_dict": {"w": torch.ones(3)}}, os.path.join(folder, "other-run.ckpt"))
    print("renamed", flush=True)
'''


@pytest.mark.slow
def test_case_02_cleanup_keeps_the_temporary_file_of_a_live_writer(tmp_path, boring_model):
    from lit_checkpoint import ModelCheckpoint

    folder = tmp_path / "ckpt"
    folder.mkdir()
    writer = run_script(PAUSED_WRITER, str(folder))
    deadline = time.monotonic() + 60
    while not (tmp_path / "ready").exists():
        assert writer.poll() is None and time.monotonic() < deadline, writer.communicate()
        time.sleep(0.02)
    assert [n for n in os.listdir(folder) if n.endswith(".tmp")], "the other process holds a temporary file"

    quiet(tmp_path, [ModelCheckpoint(dirpath=folder)], max_epochs=1).fit(boring_model())  # starts in that folder

    (tmp_path / "go").touch()
    out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0 and "renamed" in out, f"the other run's write failed:\n{err}"
    assert torch.equal(torch.load(folder / "other-run.ckpt", weights_only=True)["state_dict"]["w"], torch.ones(3))


def test_case_02_cleanup_removes_temporary_files_of_dead_or_long_gone_writers(tmp_path, boring_model):
    from lit_checkpoint import ModelCheckpoint
    from lit_checkpoint.io import STALE_AFTER_S
    from lit_core.checkpoint_files import temporary_path

    folder = tmp_path / "ckpt"
    folder.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    mine = Path(temporary_path(str(folder / "a.ckpt"))).name
    of_dead = folder / mine.replace(f".pid{os.getpid()}-", f".pid{dead_pid}-")
    old_unowned = folder / ".b.ckpt.abcdef12.tmp"  # an older lit's name: no owner in it
    fresh_unowned = folder / ".c.ckpt.0123abcd.tmp"
    for path in (of_dead, old_unowned, fresh_unowned):
        path.write_bytes(b"partial")
    long_ago = time.time() - STALE_AFTER_S - 60
    os.utime(old_unowned, (long_ago, long_ago))

    quiet(tmp_path, [ModelCheckpoint(dirpath=folder)], max_epochs=1).fit(boring_model())

    assert not of_dead.exists(), "the temporary file of a process that no longer exists is removed"
    assert not old_unowned.exists(), "an unowned temporary file untouched for over an hour is removed"
    assert fresh_unowned.exists(), "an unowned temporary file written recently may belong to a live run"


# ------------------------------------------------------------------------------------------
# Case 9: bit flips are detected on load
# ------------------------------------------------------------------------------------------


def test_case_09_every_bit_flipped_checkpoint_is_reported_corrupt(tmp_path, boring_model):
    original = saved_checkpoint(tmp_path, boring_model).read_bytes()
    rng = random.Random(14)
    flipped = tmp_path / "flipped.ckpt"
    detected, silent = 0, []
    for trial in range(200):
        data = bytearray(original)
        for _ in range(rng.randint(1, 3)):
            bit = rng.randrange(len(data) * 8)
            data[bit // 8] ^= 1 << (bit % 8)
        flipped.write_bytes(data)
        try:
            load(flipped)
        except CheckpointError as exc:
            message = str(exc)
            assert "corrupt" in message and "malicious" not in message and "run code" not in message, message
            detected += 1
        else:
            silent.append(trial)
    assert detected == 200, f"{len(silent)} of 200 bit-flipped checkpoints loaded silently (trials {silent[:10]})"


def test_case_09_a_flip_in_any_part_of_the_archive_is_detected(tmp_path, boring_model):
    import zipfile

    original = saved_checkpoint(tmp_path, boring_model).read_bytes()
    with zipfile.ZipFile(tmp_path / "real.ckpt") as archive:
        infos = archive.infolist()
    directory = min(len(original) - 1, max(i.header_offset for i in infos) + 64)
    offsets = {len(original) - k for k in range(1, 64)}  # the checksum comment and the end record
    offsets |= set(range(directory, len(original), 7))  # the central directory
    for info in infos:  # each record's local header, its padding, and its data
        offsets |= {info.header_offset + k for k in (0, 8, 14, 22, 26, 30)}
        data_start = info.header_offset + 30 + len(info.filename) + 4
        offsets |= {data_start, data_start + 2, info.header_offset + 60}
        offsets |= {o for o in range(data_start, data_start + info.compress_size, max(info.compress_size // 3, 1))}
    offsets = sorted(o for o in offsets if 0 <= o < len(original))
    assert len(offsets) > 150
    flipped = tmp_path / "flipped.ckpt"
    for offset in offsets:
        data = bytearray(original)
        data[offset] ^= 0x04
        flipped.write_bytes(data)
        with pytest.raises(CheckpointError, match="corrupt"):
            load(flipped)


def test_case_09_a_corrupt_checkpoint_stops_a_resume(tmp_path, boring_model):
    path = saved_checkpoint(tmp_path, boring_model)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(data)
    with pytest.raises(CheckpointError, match=r"is corrupt"):
        quiet(tmp_path, max_epochs=2).fit(boring_model(), ckpt_path=path)


def test_case_09_torch_zip_checkpoints_without_lit_checksum_have_their_records_checked(tmp_path, boring_model):
    checkpoint = torch.load(saved_checkpoint(tmp_path, boring_model), weights_only=True)
    torch.save(checkpoint, tmp_path / "plain.ckpt")  # as Lightning (or an older lit) writes it
    assert load(tmp_path / "plain.ckpt")["global_step"] == checkpoint["global_step"]
    data = bytearray((tmp_path / "plain.ckpt").read_bytes())
    at = data.index(b"data.pkl") + 200  # inside the pickle record
    data[at] ^= 0x01
    (tmp_path / "plain.ckpt").write_bytes(data)
    with pytest.raises(CheckpointError, match=r"is corrupt: record .*data.pkl.* does not match its CRC32"):
        load(tmp_path / "plain.ckpt")


def test_case_09_the_checksum_keeps_the_file_a_plain_torch_checkpoint(tmp_path, boring_model):
    path = saved_checkpoint(tmp_path, boring_model)
    for mmap in (False, True):
        assert "state_dict" in torch.load(path, weights_only=True, mmap=mmap)


# ------------------------------------------------------------------------------------------
# Case 11: the checkpoint's mode is a plain write's
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_case_11_checkpoint_mode_respects_the_umask(tmp_path, boring_model, umask):
    from lit_checkpoint import ModelCheckpoint, TorchCheckpointIO

    previous = os.umask(umask)
    try:
        callback = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)
        trainer = quiet(tmp_path, [callback], max_epochs=1)
        trainer.fit(boring_model())
        trainer.save_checkpoint(tmp_path / "manual.ckpt")
        TorchCheckpointIO().save_checkpoint({"state_dict": {}}, tmp_path / "io.ckpt")
        (tmp_path / "plain").write_bytes(b"")
    finally:
        os.umask(previous)
    expected = stat.S_IMODE(os.stat(tmp_path / "plain").st_mode)
    assert expected == 0o666 & ~umask
    for path in (tmp_path / "manual.ckpt", tmp_path / "io.ckpt", Path(callback.best_model_path), tmp_path / "ckpt" / "last.ckpt"):
        assert stat.S_IMODE(os.stat(path).st_mode) == expected, f"{path.name}: {oct(os.stat(path).st_mode)}"


# ------------------------------------------------------------------------------------------
# Case 14: errors that say what is wrong
# ------------------------------------------------------------------------------------------


def test_case_14_random_bytes_or_text_are_not_a_checkpoint(tmp_path, boring_model):
    rng = random.Random(101)
    files = {"notes.txt": b"epoch 3, val_loss 0.12\nthis is not a checkpoint\n", "empty.ckpt": b""}
    for i in range(40):
        head = rng.choice([b"", b"\x80\x02", b"\x80\x04\x95", b"}q\x00", b"PK\x03\x04"])  # pickle- and zip-like starts
        files[f"random{i}.ckpt"] = head + rng.randbytes(rng.choice([1, 7, 100, 3000]))
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(CheckpointError) as info:
            load(tmp_path / name)
        message = str(info.value)
        assert "not a checkpoint" in message or "not a torch checkpoint" in message, f"{name}: {message}"
        assert "malicious" not in message and "run code" not in message and "weights_only=False" not in message, message
    with pytest.raises(CheckpointError, match=r"'.*notes.txt' is not a checkpoint: it is text, starting 'epoch 3"):
        quiet(tmp_path, max_epochs=2).fit(boring_model(), ckpt_path=tmp_path / "notes.txt")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_case_14_map_location_cuda_without_cuda_says_so(tmp_path, boring_model):
    path = saved_checkpoint(tmp_path, boring_model)
    for where in ("cuda", torch.device("cuda:0"), {"cpu": "cuda"}):
        with pytest.raises(CheckpointError, match=r"this machine has no CUDA device") as info:
            boring_model.load_from_checkpoint(path, map_location=where)
        assert "truncated" not in str(info.value)


def test_case_14_disk_full_during_a_save_names_the_folder_and_keeps_callback_state_true(full_disk, tmp_path, scripted_like):
    from lit_checkpoint import ModelCheckpoint

    small_disk = full_disk.folder

    callback = ModelCheckpoint(dirpath=small_disk, monitor="val_loss", save_top_k=2, save_last=True)

    class FillsTheDisk(lit.Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            if trainer.current_epoch == 2:
                full_disk.fill()

    trainer = quiet(tmp_path, [callback, FillsTheDisk()], max_epochs=4)
    with pytest.raises(CheckpointError, match=rf"no space left on {small_disk}") as info:
        trainer.fit(scripted_like([3.0, 2.0, 1.0, 0.5]))
    assert "enforce fail" not in str(info.value)
    named = [callback.best_model_path, callback.last_model_path, callback.kth_best_model_path, *callback.best_k_models]
    assert callback.best_model_path and callback.last_model_path
    missing = [path for path in named if path and not os.path.exists(path)]
    assert not missing, f"callback state names files that do not exist: {missing}"
    assert sorted(callback.best_k_models) == sorted(str(small_disk / n) for n in ("epoch=0-step=4.ckpt", "epoch=1-step=8.ckpt"))
    assert not [n for n in os.listdir(small_disk) if n.endswith(".tmp")], "no temporary file is left behind"


def test_case_14_disk_full_during_a_background_save_leaves_no_path_to_a_missing_file(full_disk, tmp_path, scripted_like):
    from lit_checkpoint import ModelCheckpoint

    small_disk = full_disk.folder

    callback = ModelCheckpoint(dirpath=small_disk, monitor="val_loss", save_top_k=2, save_last=True, async_save=True)

    class FillsTheDisk(lit.Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            if trainer.current_epoch == 2:
                from lit_checkpoint.failed_saves import wait_for_writes

                wait_for_writes(trainer)  # the epoch-1 files are written before the disk fills
                full_disk.fill()

    trainer = quiet(tmp_path, [callback, FillsTheDisk()], max_epochs=4)
    with pytest.raises(CheckpointError, match=rf"no space left on {small_disk}"):
        trainer.fit(scripted_like([3.0, 2.0, 1.0, 0.5]))
    named = [callback.best_model_path, callback.last_model_path, callback.kth_best_model_path, *callback.best_k_models]
    missing = [path for path in named if path and not os.path.exists(path)]
    assert not missing, f"callback state names files that do not exist: {missing}"
    assert callback.best_model_path == str(small_disk / "epoch=1-step=8.ckpt")
    assert callback.last_model_path in ("", str(small_disk / "last.ckpt"))
    assert (small_disk / "epoch=0-step=4.ckpt").exists(), "a checkpoint is deleted only once its replacement is written"


@pytest.fixture
def scripted_like(boring_model):
    """``scripted_like(scores)``: the boring model, whose validation logs ``val_loss = scores[epoch]``."""

    class Scripted(boring_model):
        def __init__(self, scores):
            super().__init__()
            self.scores = scores

        def validation_step(self, batch, batch_idx):
            self.log("val_loss", torch.tensor(float(self.scores[self.current_epoch])))

    return Scripted


def test_case_14_adam_state_into_sgd_is_an_optimizer_mismatch(tmp_path, boring_model):
    class WithAdam(boring_model):
        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=0.01)

    path = saved_checkpoint(tmp_path, WithAdam, "adam.ckpt")
    with pytest.raises(CheckpointError, match=r"optimizer mismatch: saved Adam, configured SGD"):
        quiet(tmp_path, max_epochs=2).fit(boring_model(), ckpt_path=path)

    # A checkpoint from before optimizer types were recorded: still a mismatch, named.
    old = torch.load(path, weights_only=True)
    del old["optimizer_types"]
    torch.save(old, tmp_path / "old.ckpt")
    with pytest.raises(CheckpointError, match=r"optimizer mismatch: .*configured SGD .*lacks SGD's hyperparameters \[.*'momentum'"):
        quiet(tmp_path, max_epochs=2).fit(boring_model(), ckpt_path=tmp_path / "old.ckpt")
    # The same optimizer resumes as before, with or without the record.
    quiet(tmp_path, max_epochs=2).fit(WithAdam(), ckpt_path=tmp_path / "old.ckpt")
    quiet(tmp_path, max_epochs=2).fit(WithAdam(), ckpt_path=path)
