"""Starting the processes of a job, and ending all of them when one fails.

``ScriptLauncher`` (``strategy="ddp"``) runs the user's command again once per extra local
process, with the rank variables set, and trains in the first process itself: the other
processes run the same script and meet the first one in ``init_process_group``. It starts them
once per script: later stages (``trainer.test()`` after ``fit()``) run in every process as the
script reaches them.

``SpawnLauncher`` (``strategy="ddp_spawn"``) starts the processes with
``torch.multiprocessing.start_processes``; the first process waits for them, then takes back
the trained weights and the result of the node's first process (global rank zero on node 0).

Failure handling (never a hang, one report):

* a started process writes its uncaught traceback to an error file instead of the terminal;
* the first process watches the others from a thread. When one exits with an error, it stops
  the rest and raises ``ProcessFailedError`` carrying that traceback, or, when it is stuck in a
  collective that does not fail by itself (nccl), prints the report and exits after
  ``FAILURE_GRACE_S``;
* when the first process fails itself, it stops the others (they are waiting for it) and
  re-raises its own error;
* started processes exit when the first process disappears;
* ``ddp_spawn``: ``torch.multiprocessing`` ends the other processes and raises the error of the
  failed one, with its traceback.
"""

from __future__ import annotations

import atexit
import gc
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import torch

from lit_core.plugin_api import ClusterEnvironment, result_payload, take_back

from .environment import ERROR_FILE_ENV, LAUNCHED_ENV, PARENT_PID_ENV

__all__ = ["ProcessFailedError", "ScriptLauncher", "SpawnLauncher", "result_payload", "take_back"]  # the last two: lit_core.distributed

if TYPE_CHECKING:
    import lit_core as lit

#: How long the first process lets its main thread report a failed process before exiting.
FAILURE_GRACE_S = 10.0
#: How long the first process, failing itself, waits to learn whether another process failed first
#: (its failure shows within a poll or two: its exit closed the connection this process saw fail).
FIRST_FAILURE_WAIT_S = 2.0
#: How long a stopped process gets between SIGTERM and SIGKILL. Short: a process blocked in a
#: collective never runs a Python SIGTERM handler (lit-checkpoint's preemption handler, say).
TERMINATE_GRACE_S = 2.0


class ProcessFailedError(RuntimeError):
    """Another process of the job failed; the message holds its error and traceback."""


def rank_variables(env: ClusterEnvironment, local_rank: int, num_devices: int, port: int) -> dict[str, str]:
    """The environment variables that place a process at ``local_rank`` on this node."""
    return {
        LAUNCHED_ENV: "1",
        "MASTER_ADDR": env.main_address,
        "MASTER_PORT": str(port),
        "NODE_RANK": str(env.node_rank()),
        "WORLD_SIZE": str(env.world_size()),
        "LOCAL_WORLD_SIZE": str(num_devices),
        "LOCAL_RANK": str(local_rank),
        "RANK": str(env.node_rank() * num_devices + local_rank),
    }


def script_command() -> list[str]:
    """The command that started this process, to start the same script again."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name and spec.name != "__main__":
        return [sys.executable, "-m", spec.name, *sys.argv[1:]]
    script = sys.argv[0] if sys.argv else ""
    if script in ("", "-c") or not os.path.isfile(script):
        from lit_core.plugin_api import MisconfigurationException

        raise MisconfigurationException(
            "strategy='ddp' starts the other processes by running your script again, but this code does not come "
            "from a script file (a notebook, `python -c`, an interactive shell). Use strategy='ddp_spawn', or put the "
            "code in a file and run it (`python train.py`, or `torchrun --nproc_per_node N train.py`)."
        )
    return [sys.executable, os.path.abspath(script), *sys.argv[1:]]


@dataclass(frozen=True)
class Failure:
    """A started process that exited with an error."""

    local_rank: int
    exit_code: int
    traceback: str

    def report(self) -> str:
        how = f"exit code {self.exit_code}" if self.exit_code > 0 else f"signal {-self.exit_code}"
        text = self.traceback.rstrip() or "(it left no traceback: its own output is above)"
        return f"Local rank {self.local_rank} (global rank {self.global_rank}) failed with {how}; the other processes were stopped.\n{text}"

    @property
    def global_rank(self) -> int:
        return int(os.environ.get("NODE_RANK", 0)) * int(os.environ.get("LOCAL_WORLD_SIZE", 1)) + self.local_rank


class _Children:
    """The local processes this script started, watched from a daemon thread."""

    def __init__(self, procs: dict[int, subprocess.Popen[bytes]], error_dir: tempfile.TemporaryDirectory[str]) -> None:
        self.procs = procs
        self.error_dir = error_dir
        self.failure: Failure | None = None
        self._failed = threading.Event()
        self._reported = threading.Event()
        self._stopping = False
        self._watcher = threading.Thread(target=self._watch, name="lit-ddp-watch", daemon=True)
        self._watcher.start()

    def error_file(self, local_rank: int) -> str:
        return os.path.join(self.error_dir.name, f"rank{local_rank}.txt")

    def _watch(self) -> None:
        while not self._stopping:
            running = False
            for local_rank, proc in self.procs.items():
                code = proc.poll()
                if code is None:
                    running = True
                elif code != 0 and not self._stopping:
                    self._fail(local_rank, code)
                    return
            if not running:
                return
            time.sleep(0.05)

    def _fail(self, local_rank: int, code: int) -> None:
        try:
            with open(self.error_file(local_rank)) as f:
                text = f.read()
        except OSError:
            text = ""
        self.failure = Failure(local_rank, code, text)
        self._failed.set()
        self.terminate()
        # The main thread reports it when its collective fails; if it is stuck (nccl), this thread does.
        if not self._reported.wait(FAILURE_GRACE_S):
            print(self.failure.report(), file=sys.stderr, flush=True)
            os._exit(1)

    def wait_for_failure(self, timeout: float) -> Failure | None:
        """The failure of a started process, waiting up to ``timeout`` seconds for one."""
        if self._failed.wait(timeout):
            self._reported.set()
            return self.failure
        return None

    def terminate(self) -> None:
        """Stop every started process still running: SIGTERM, then SIGKILL."""
        self._stopping = True
        alive = [p for p in self.procs.values() if p.poll() is None]
        for proc in alive:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + TERMINATE_GRACE_S
        for proc in alive:
            try:
                proc.wait(max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def wait_all(self) -> None:
        """At exit: the started processes run the same script; wait until they finish it too."""
        while any(p.poll() is None for p in self.procs.values()):
            if self._failed.wait(0.1):
                break
        failure = self.failure
        if failure is not None and not self._reported.is_set():
            self._reported.set()
            print(failure.report(), file=sys.stderr, flush=True)
            os._exit(1)
        self.error_dir.cleanup()


#: The processes this script started (once per script, whatever the number of Trainers).
_children: _Children | None = None


class ScriptLauncher:
    """Run the user's script again for every other local process (``strategy="ddp"``)."""

    def launch(self, env: ClusterEnvironment, num_devices: int, function: Callable[[], Any]) -> Any:
        global _children
        if not env.creates_processes_externally and num_devices > 1:
            _children = self._start(env, num_devices)
        if _children is None:
            return function()
        try:
            return function()
        except BaseException:
            failure = _children.wait_for_failure(FIRST_FAILURE_WAIT_S)
            if failure is None:
                _children.terminate()  # they wait for this process in a collective: end them
                raise
            raise ProcessFailedError(failure.report()) from None

    @staticmethod
    def _start(env: ClusterEnvironment, num_devices: int) -> _Children:
        command = script_command()
        port = env.main_port
        os.environ.update(rank_variables(env, 0, num_devices, port))
        error_dir = tempfile.TemporaryDirectory(prefix="lit-ddp-")
        procs: dict[int, subprocess.Popen[bytes]] = {}
        for local_rank in range(1, num_devices):
            child_env = {**os.environ, **rank_variables(env, local_rank, num_devices, port),
                         PARENT_PID_ENV: str(os.getpid()),
                         ERROR_FILE_ENV: os.path.join(error_dir.name, f"rank{local_rank}.txt")}
            procs[local_rank] = subprocess.Popen(command, env=child_env)
        children = _Children(procs, error_dir)
        atexit.register(children.wait_all)
        previous = sys.excepthook

        def excepthook(*exc_info: Any) -> None:
            children.terminate()  # this process failed outside a stage: the others would wait for it
            previous(*exc_info)

        sys.excepthook = excepthook
        return children


_child_hooks_installed = False


def install_child_hooks() -> None:
    """In a process lit's script launcher started: write the uncaught traceback to the error file
    (the first process reports it), and exit when the first process is gone."""
    global _child_hooks_installed
    error_file = os.environ.get(ERROR_FILE_ENV)
    parent = os.environ.get(PARENT_PID_ENV)
    if error_file is None or parent is None or _child_hooks_installed:
        return
    _child_hooks_installed = True

    def excepthook(exc_type: type[BaseException], value: BaseException, tb: Any) -> None:
        text = "".join(traceback.format_exception(exc_type, value, tb))
        try:
            with open(error_file, "w") as f:
                f.write(text)
        except OSError:
            sys.__excepthook__(exc_type, value, tb)

    sys.excepthook = excepthook

    def watch_parent() -> None:
        while os.getppid() == int(parent):
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch_parent, name="lit-ddp-parent", daemon=True).start()


class SpawnLauncher:
    """Start every local process with ``torch.multiprocessing`` (``strategy="ddp_spawn"``)."""

    def __init__(self, start_method: str = "spawn") -> None:
        self.start_method = start_method

    def launch(self, trainer: lit.Trainer, env: ClusterEnvironment, num_devices: int, function: Callable[[], Any]) -> Any:
        if self.start_method == "fork" and torch.cuda.is_initialized():
            raise RuntimeError(
                f"strategy={trainer.strategy.name!r} forks the processes, and CUDA is already initialised in this one: a "
                "forked process cannot use it. Something called torch.cuda (moved a model or tensor to the GPU, asked "
                "torch.cuda.device_count() with NVML off...) before trainer.fit: remove that call and restart the Python "
                "process (the Jupyter kernel), or use strategy='ddp_spawn' (or 'ddp' from a script)."
            )
        port = env.main_port
        with tempfile.TemporaryDirectory(prefix="lit-ddp-spawn-") as folder:
            out = os.path.join(folder, "rank0.pt")
            torch.multiprocessing.start_processes(
                _spawned, args=(trainer, function, env, num_devices, port, out), nprocs=num_devices,
                start_method=self.start_method,
            )
            # Written a moment ago by this job's own rank zero: not a checkpoint from elsewhere.
            payload = torch.load(out, weights_only=False)
        take_back(trainer, payload)
        return payload["result"]


def _spawned(local_rank: int, trainer: lit.Trainer, function: Callable[[], Any], env: ClusterEnvironment,
             num_devices: int, port: int, out: str) -> None:
    os.environ.update(rank_variables(env, local_rank, num_devices, port))
    _own_copy(trainer.lightning_module)
    succeeded = False
    try:
        result = function()
        if local_rank == 0:  # global rank zero, or the first process of another node
            torch.save(result_payload(trainer, result), out)
        succeeded = True
    finally:
        # multiprocessing's children skip atexit, so the strategy's exit handler never runs here.
        leave_process_group(wait=succeeded)


def leave_process_group(wait: bool) -> None:
    """Tear the process group down; after a clean run (``wait``), first meet the other ranks there.

    A rank that destroyed its group while another still finished its last collective has aborted
    the other at exit ("terminate called without an active exception", a gloo worker thread).
    After a failure the others may be stuck or gone, so nobody waits; on gloo the wait is bounded
    (``monitored_barrier``) in case a peer died without an exception.
    """
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()):
        return
    try:
        if wait:
            if dist.get_backend() == "gloo":
                dist.monitored_barrier(timeout=timedelta(seconds=30))
            else:
                dist.barrier()
    except Exception:  # a peer gone at exit: nothing left to wait for
        pass
    finally:
        # A DDP wrapper left in a reference cycle (a Trainer that ended its stage) still holds the
        # group's C++ object. Collected here, while the interpreter is whole, its gloo work objects
        # and their tensors are freed now; left to the finalizers they take the GIL from a worker
        # thread during shutdown and abort the process ("terminate called without an active
        # exception", signal 6: seen twice in `make test`, on a started rank of a two-process job).
        gc.collect()
        dist.destroy_process_group()
        gc.collect()


def _own_copy(module: torch.nn.Module | None) -> None:
    """Give this process its own parameters: multiprocessing pickles CPU tensors into memory
    shared by every process, where each process's optimizer step would land on all of them."""
    if module is None:
        return
    with torch.no_grad():
        for tensor in (*module.parameters(), *module.buffers()):
            tensor.data = tensor.data.clone()
