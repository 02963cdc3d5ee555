"""Per-step overhead of lit's training loop against a hand-written PyTorch loop.

Every configuration trains the same model (same class, same seed, same SGD) on the same
pre-generated batches, in one process, interleaved: each round runs every configuration once,
in a rotated order, and the report gives the median over rounds. Configurations:

* ``raw``: ``forward, loss, backward, optimizer.step(), optimizer.zero_grad()`` by hand;
* ``lit default``: ``lit_core.Trainer`` with its defaults (default logger, default callbacks,
  ``log_every_n_steps=50``), writing into a temporary folder; ``training_step`` does not call
  ``self.log`` (barebones forbids it, and raw has nothing to match it);
* ``lit default, no bar``: the same with ``enable_progress_bar=False``: the difference to
  ``lit default`` is the progress bar's cost (lit-tqdm's bar when installed). Every lit run's
  standard output and error are sinks that say they are a terminal and drop what they are given, so the bar
  formats and writes its terminal redraws as on a console, without filling the report;
* ``lit-core default``: the default Trainer of lit-core alone (``LIT_DISABLE_PLUGIN_AUTOLOAD=1``:
  what ``pip install lit-core`` gives, the csv logger and no bar or checkpoint callback), so the
  kernel's cost is measured apart from the plugins installed next to it;
* ``lit barebones``: ``lit_core.Trainer(barebones=True)``;
* ``lit default + EarlyStopping + LearningRateMonitor`` (tiny model, when lit-callbacks is
  installed): ``lit default`` with the two callbacks real programs add most; the difference to
  ``lit default`` is their cost per step (EarlyStopping's check runs once per epoch, on a metric
  this model does not log, ``strict=False``: its per-step cost is the same either way);
* ``lightning``: PyTorch Lightning's ``Trainer``, only when it happens to be importable.

Two figures per configuration:

* **step**: the steady-state time per training step, from timestamps taken as each batch is
  fetched: after ``warmup`` steps, the median of 50-step block means (everything before and
  after the loop is left out); ``overhead`` is a configuration's step time minus raw's in the
  same round (median over rounds);
* **wall**: the whole run, ``Trainer(...)`` construction and ``fit`` included (raw: optimizer
  construction and the loop), so fixed costs show in the ratio (to raw's in the same round).

Then the **paired** figures, on which the goals are judged: each lit configuration runs again
on an iterable that trains a twin model one raw step on each batch just before lit gets it, so
raw and lit steps alternate under the same machine conditions; the overhead is the median over
steps of lit's step minus the adjacent raw step, and the wall ratio is lit's whole run (raw
steps taken out) over the raw steps' sum.

Run ``python benchmarks/overhead.py --help``; see ``benchmarks/README.md`` for the method.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import itertools
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

import lit_core as lit

SEED = 1234
LR = 0.01
#: Distinct batches generated per model; the loader cycles through them (memory stays small).
POOL = 64
#: Step times are medians of block means; a block is lit's default ``log_every_n_steps``.
BLOCK = 50
#: Lit's per-step goals are judged on the tiny model, where the model costs least.
GOAL_DEFAULT_US = 50.0
GOAL_BAREBONES_US = 20.0
#: The progress bar's own cost: ``lit default`` minus ``lit default, no bar`` (paired figures).
GOAL_BAR_US = 5.0
#: ``EarlyStopping`` + ``LearningRateMonitor`` together: the configuration below minus ``lit default`` (paired).
GOAL_CALLBACKS_US = 5.0
CALLBACKS = "lit default + EarlyStopping + LearningRateMonitor"
#: The seed MLP's goal (the kernel's, lit-core's issue) is judged on lit-core's default
#: configuration, by the paired wall ratio (fixed costs included); the default with every
#: installed plugin is reported next to it (see benchmarks/README.md).
GOAL_SEED_RATIO = 1.03
#: Set while a ``lit-core default`` run builds its Trainer and fits: only lit-core's own plugins.
DISABLE_AUTOLOAD = "LIT_DISABLE_PLUGIN_AUTOLOAD"


# ------------------------------------------------------------------------------------------
# Models: plain ``nn.Module`` networks; the Lightning versions add only the recipe.
# ------------------------------------------------------------------------------------------


class TinyNet(nn.Module):
    """``Linear(32 -> 2)`` with cross-entropy: almost no math, so the loop's cost shows."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(32, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)

    @staticmethod
    def criterion(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(output, target)


class MNISTNet(nn.Module):
    """The seed's ``LitMNIST`` network (introduction guide): 784-128-256-10, log-softmax, NLL."""

    def __init__(self) -> None:
        super().__init__()
        self.layer_1 = nn.Linear(28 * 28, 128)
        self.layer_2 = nn.Linear(128, 256)
        self.layer_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch_size = x.size(0)
        x = x.view(batch_size, -1)
        x = F.relu(self.layer_1(x))
        x = F.relu(self.layer_2(x))
        return F.log_softmax(self.layer_3(x), dim=1)

    @staticmethod
    def criterion(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.nll_loss(output, target)


class Recipe:
    """The ``LightningModule`` methods, mixed into a network class (no extra module nesting)."""

    criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    parameters: Callable[[], Iterator[nn.Parameter]]
    __call__: Callable[..., torch.Tensor]

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        return self.criterion(self(x), y)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=LR)


def lightning_class(net: type[nn.Module], base: type[nn.Module]) -> type[nn.Module]:
    """``net`` as a ``base`` (lit's or Lightning's ``LightningModule``) with the recipe."""
    return type(f"Lit{net.__name__}", (Recipe, net, base), {})


def build(net: type[nn.Module], base: type[nn.Module] | None = None) -> nn.Module:
    """A freshly seeded instance, so every configuration starts from the same weights."""
    torch.manual_seed(SEED)
    return net() if base is None else lightning_class(net, base)()


# ------------------------------------------------------------------------------------------
# Data: pre-generated batches behind one timed iterable, shared by every configuration.
# ------------------------------------------------------------------------------------------


class TimedBatches:
    """``steps`` batches cycled from a pre-generated pool; stamps the clock at each fetch.

    Not a ``Sequence`` (lit would read a list as several dataloaders); has a length so lit
    knows the epoch size. Raw and lit iterate it the same way, so its small cost cancels out.
    """

    def __init__(self, pool: list[tuple[torch.Tensor, torch.Tensor]], steps: int) -> None:
        self.pool = pool
        self.steps = steps
        self.stamps: list[float] = []

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        self.stamps = stamps = []
        pool, clock = self.pool, CLOCK
        n = len(pool)
        for i in range(self.steps):
            stamps.append(clock())
            yield pool[i % n]

    def block_means(self, warmup: int, block: int) -> list[float]:
        """Seconds per step of each ``block``-step block after the first ``warmup`` steps.

        A block of ``log_every_n_steps`` steps holds exactly one logging step, so periodic
        costs are in every block.
        """
        stamps = self.stamps
        if len(stamps) != self.steps:
            raise RuntimeError(f"expected {self.steps} batches fetched, got {len(stamps)}")
        edges = stamps[warmup::block]
        if len(edges) < 2:
            raise RuntimeError(f"{self.steps} steps leave no {block}-step block after {warmup} warm-up steps: use more --steps")
        return [(b - a) / block for a, b in itertools.pairwise(edges)]


class PairedBatches(TimedBatches):
    """Like ``TimedBatches``, but first trains a twin model one raw step on each batch, timed.

    The raw step and lit's step then alternate, microseconds apart, under the same machine
    conditions (caches, frequency, neighbours), so the per-step difference cancels most of the
    noise that separate runs carry. Lit's step ``i`` is the time between two stamps minus the
    raw step run in between.
    """

    def __init__(self, case: Case, pool: list[tuple[torch.Tensor, torch.Tensor]], steps: int) -> None:
        super().__init__(pool, steps)
        self.case = case
        self.raw: list[float] = []

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        twin = build(self.case.net)
        twin.train()
        optimizer = torch.optim.SGD(twin.parameters(), lr=LR)
        criterion = self.case.net.criterion
        self.stamps = stamps = []
        self.raw = raw = []
        pool, clock = self.pool, CLOCK
        n = len(pool)
        for i in range(self.steps):
            x, y = batch = pool[i % n]
            start = clock()
            loss = criterion(twin(x), y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            stamp = clock()
            raw.append(stamp - start)
            stamps.append(stamp)
            yield batch

    def pairs(self, warmup: int) -> tuple[list[float], list[float]]:
        """``(lit, raw)`` seconds per step after ``warmup`` steps: lit step ``i`` against raw step ``i + 1``."""
        stamps, raw = self.stamps, self.raw
        if len(stamps) != self.steps:
            raise RuntimeError(f"expected {self.steps} batches fetched, got {len(stamps)}")
        lit_steps = [b - a - r for a, b, r in zip(stamps[warmup:-1], stamps[warmup + 1:], raw[warmup + 1:])]
        return lit_steps, raw[warmup + 1:]


@dataclass(frozen=True)
class Case:
    """A model and its data shape."""

    title: str
    net: type[nn.Module]
    input_shape: tuple[int, ...]
    classes: int
    batch_size: int

    def pool(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        g = torch.Generator().manual_seed(SEED)
        return [
            (torch.randn(self.batch_size, *self.input_shape, generator=g),
             torch.randint(0, self.classes, (self.batch_size,), generator=g))
            for _ in range(POOL)
        ]


CASES = {
    "tiny": Case("tiny: Linear(32->2), batch 32", TinyNet, (32,), 2, 32),
    "seed": Case("seed MLP (LitMNIST 784-128-256-10), batch 64, random 28x28", MNISTNet, (1, 28, 28), 10, 64),
}


# ------------------------------------------------------------------------------------------
# Configurations: each trains once over ``data`` and returns its wall time.
# ------------------------------------------------------------------------------------------


def run_raw(case: Case, data: TimedBatches) -> float:
    """The hand-written loop: the same math lit's automatic optimization does."""
    model = build(case.net)
    model.train()
    start = CLOCK()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    criterion = case.net.criterion
    for x, y in data:
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return CLOCK() - start


class TerminalSink(io.TextIOBase):
    """Standard output and error for lit's runs: a terminal (``isatty()``), so a progress bar draws
    as on a console (tqdm formats every redraw), but what is written is dropped."""

    def isatty(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return len(text)


@contextlib.contextmanager
def core_only(on: bool) -> Iterator[None]:
    """``LIT_DISABLE_PLUGIN_AUTOLOAD=1`` inside the block when ``on``: lit-core's own plugins only."""
    if not on:
        yield
        return
    before = os.environ.get(DISABLE_AUTOLOAD)
    os.environ[DISABLE_AUTOLOAD] = "1"
    try:
        yield
    finally:
        if before is None:
            del os.environ[DISABLE_AUTOLOAD]
        else:
            os.environ[DISABLE_AUTOLOAD] = before


def lit_runner(core: bool = False, callbacks: Callable[[], list[Any]] | None = None,
               **flags: Any) -> Callable[[Case, TimedBatches], float]:
    """A configuration training with ``lit_core.Trainer(**flags)`` (plus benchmark hygiene);
    ``core``: with lit-core's own plugins only, as when no other lit distribution is installed;
    ``callbacks``: makes fresh callbacks for each run (they keep state)."""

    def run(case: Case, data: TimedBatches) -> float:
        model = build(case.net, lit.LightningModule)
        # Lightning's bars (lit-tqdm's too) draw on standard output; both streams are sinks.
        with tempfile.TemporaryDirectory(prefix="lit-bench-") as root, contextlib.redirect_stderr(TerminalSink()), \
                contextlib.redirect_stdout(TerminalSink()), core_only(core):
            start = CLOCK()
            if callbacks is not None:
                flags["callbacks"] = callbacks()
            trainer = lit.Trainer(max_epochs=1, default_root_dir=root, enable_model_summary=False,
                                  num_sanity_val_steps=0, **flags)
            trainer.fit(model, train_dataloaders=data)
            wall = CLOCK() - start
        if trainer.global_step != data.steps:
            raise RuntimeError(f"lit ran {trainer.global_step} steps, expected {data.steps}")
        return wall

    return run


def callbacks_runner() -> Callable[[Case, TimedBatches], float] | None:
    """``lit default`` plus ``EarlyStopping`` and ``LearningRateMonitor``, when lit-callbacks is installed."""
    try:
        from lit_callbacks import EarlyStopping, LearningRateMonitor
    except ImportError:
        return None
    return lit_runner(callbacks=lambda: [EarlyStopping(monitor="train_loss", strict=False), LearningRateMonitor()])


def lightning_runner() -> tuple[Callable[[Case, TimedBatches], float] | None, str]:
    """PyTorch Lightning's Trainer with its defaults, when importable (never a dependency)."""
    try:
        import lightning.pytorch as pl
    except ImportError:
        try:
            import pytorch_lightning as pl
        except ImportError:
            return None, "PyTorch Lightning is not installed: skipped (pip install lightning to compare)"

    # Lightning's info lines and warnings ("GPU available", tips, no tensorboard) would flood the report.
    for name in ("lightning.pytorch", "lightning.fabric", "pytorch_lightning", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)

    def run(case: Case, data: TimedBatches) -> float:
        model = build(case.net, pl.LightningModule)
        with tempfile.TemporaryDirectory(prefix="pl-bench-") as root, contextlib.redirect_stdout(io.StringIO()), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = CLOCK()
            trainer = pl.Trainer(max_epochs=1, default_root_dir=root, enable_model_summary=False,
                                 num_sanity_val_steps=0, enable_progress_bar=False, accelerator="cpu", devices=1)
            trainer.fit(model, train_dataloaders=data)
            wall = CLOCK() - start
        return wall

    return run, f"PyTorch Lightning {pl.__version__} (progress bar off; otherwise its defaults)"


# ------------------------------------------------------------------------------------------
# Measuring and reporting
# ------------------------------------------------------------------------------------------


@dataclass
class Samples:
    """One configuration's per-round measurements (seconds)."""

    #: Median block mean of each run: the steady-state step time, robust to short preemptions.
    step: list[float] = field(default_factory=list)
    #: Fastest block of each run: close to the step time on an idle machine.
    best: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)


def measure(case: Case, configs: dict[str, Callable[[Case, TimedBatches], float]], steps: int, rounds: int,
            warmup: int) -> dict[str, Samples]:
    """Run every configuration once per round, rotating the order; one unrecorded round first.

    The first runs in a process pay one-time costs (lazy imports and initialisation in torch).
    """
    data = TimedBatches(case.pool(), steps)
    names = list(configs)
    samples = {name: Samples() for name in names}
    for r in range(-1, rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            gc.collect()
            wall = configs[name](case, data)
            if r >= 0:
                blocks = data.block_means(warmup, BLOCK)
                samples[name].step.append(statistics.median(blocks))
                samples[name].best.append(min(blocks))
                samples[name].wall.append(wall)
    return samples


@dataclass
class Paired:
    """One lit configuration measured against raw steps interleaved with its own (``PairedBatches``)."""

    #: Per round: median over steps of ``lit step - adjacent raw step`` (seconds).
    overhead: list[float] = field(default_factory=list)
    #: Per round: median lit step and median raw step (seconds).
    lit_step: list[float] = field(default_factory=list)
    raw_step: list[float] = field(default_factory=list)
    #: Per round: lit's whole run (``Trainer(...)`` and ``fit``, the raw steps taken out) over the raw steps' sum.
    wall_ratio: list[float] = field(default_factory=list)


def measure_paired(case: Case, configs: dict[str, Callable[[Case, TimedBatches], float]], steps: int, rounds: int,
                   warmup: int) -> dict[str, Paired]:
    """Each lit configuration once per round on ``PairedBatches``; one unrecorded round first."""
    data = PairedBatches(case, case.pool(), steps)
    names = [name for name in configs if name.startswith("lit")]
    samples = {name: Paired() for name in names}
    for r in range(-1, rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            gc.collect()
            wall = configs[name](case, data)
            if r < 0:
                continue
            lit_steps, raw_steps = data.pairs(warmup)
            raw_total = sum(data.raw)
            s = samples[name]
            s.overhead.append(statistics.median(a - b for a, b in zip(lit_steps, raw_steps)))
            s.lit_step.append(statistics.median(lit_steps))
            s.raw_step.append(statistics.median(raw_steps))
            s.wall_ratio.append((wall - raw_total) / raw_total)
    return samples


def report_paired(case: Case, samples: dict[str, Paired], steps: int, rounds: int) -> dict[str, tuple[float, float]]:
    """Print the paired table; return ``name -> (overhead µs/step, wall ratio)``."""
    print(f"-- paired per step (a raw step on a twin model before each lit step, same batch): median of {rounds} round(s) --")
    width = max(21, *(len(name) + 1 for name in samples))
    print(f"{'config':<{width}}{'lit step µs':>13}{'raw step µs':>13}{'overhead µs/step':>18}{'spread µs':>11}{'wall ratio':>12}")
    figures = {}
    for name, s in samples.items():
        overhead = statistics.median(s.overhead) * 1e6
        spread = (max(s.overhead) - min(s.overhead)) * 1e6
        wall_ratio = statistics.median(s.wall_ratio)
        figures[name] = (overhead, wall_ratio)
        print(f"{name:<{width}}{statistics.median(s.lit_step) * 1e6:>13.1f}{statistics.median(s.raw_step) * 1e6:>13.1f}"
              f"{overhead:>+18.1f}{spread:>11.1f}{wall_ratio:>12.3f}")
    return figures


def paired_difference(values: list[float], reference: list[float]) -> float:
    """Median over rounds of ``value - reference`` in the same round, in µs."""
    return statistics.median(v - r for v, r in zip(values, reference)) * 1e6


def paired_ratio(values: list[float], reference: list[float]) -> float:
    """Median over rounds of ``value / reference`` in the same round."""
    return statistics.median(v / r for v, r in zip(values, reference))


def report(case: Case, samples: dict[str, Samples], steps: int, rounds: int) -> dict[str, tuple[float, float]]:
    """Print one table; return ``name -> (overhead µs/step, wall ratio)``."""
    raw = samples["raw"]
    print(f"\n== {case.title}: {steps} steps, median of {rounds} round(s) ==")
    width = max(21, *(len(name) + 1 for name in samples))
    print(f"{'config':<{width}}{'step µs':>9}{'spread µs':>11}{'overhead µs/step':>18}{'step ratio':>12}"
          f"{'best µs':>9}{'best overhead':>15}{'wall s':>8}{'wall ratio':>12}")
    figures = {}
    for name, s in samples.items():
        step, best, wall = (statistics.median(v) for v in (s.step, s.best, s.wall))
        spread = (max(s.step) - min(s.step)) * 1e6
        overhead, best_overhead = paired_difference(s.step, raw.step), paired_difference(s.best, raw.best)
        wall_ratio = paired_ratio(s.wall, raw.wall)
        figures[name] = (overhead, wall_ratio)
        shown = ("-", "-") if name == "raw" else (f"{overhead:+.1f}", f"{best_overhead:+.1f}")
        print(f"{name:<{width}}{step * 1e6:>9.1f}{spread:>11.1f}{shown[0]:>18}{paired_ratio(s.step, raw.step):>12.3f}"
              f"{best * 1e6:>9.1f}{shown[1]:>15}{wall:>8.3f}{wall_ratio:>12.3f}")
    return figures


def goal(label: str, value: float, limit: float, unit: str) -> None:
    verdict = "PASS" if value <= limit else "FAIL"
    print(f"GOAL {label}: {value:.3f}{unit} <= {limit:g}{unit} -> {verdict}")


#: The clock of every measurement; ``--clock wall`` switches to ``time.perf_counter``.
CLOCK: Callable[[], float] = time.process_time


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=2000, help="training steps per run (default 2000)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds; the median is reported (default 7)")
    parser.add_argument("--warmup", type=int, default=None,
                        help="steps left out of the step time at the start of each run (default: steps // 10)")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--cases", nargs="+", choices=sorted(CASES), default=list(CASES), help="models to run")
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                        help="cpu: this process's CPU time (time spent descheduled on a shared machine is left out; "
                             "default); wall: time.perf_counter")
    parser.add_argument("--quick", action="store_true", help="smoke test: 200 steps, 1 round (the figures are noise)")
    args = parser.parse_args(argv)
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    if args.quick:
        args.steps, args.rounds = 200, 1
    if args.warmup is None:
        args.warmup = args.steps // 10
    if args.warmup < 0 or args.steps < args.warmup + BLOCK or args.rounds < 1:
        parser.error(f"need --warmup >= 0, --steps >= warmup + {BLOCK} and --rounds >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    configs: dict[str, Callable[[Case, TimedBatches], float]] = {
        "raw": run_raw,
        "lit default": lit_runner(),
        "lit default, no bar": lit_runner(enable_progress_bar=False),
        "lit-core default": lit_runner(core=True),
        "lit barebones": lit_runner(barebones=True),
    }
    lightning, note = lightning_runner()
    if lightning is not None:
        configs["lightning"] = lightning
    with_callbacks = callbacks_runner()
    print(f"lit overhead benchmark: python {platform.python_version()}, torch {torch.__version__}, "
          f"lit_core {lit.__version__}, torch threads {torch.get_num_threads()}, {platform.machine()}")
    print(f"clock: {'CPU time of this process (time.process_time)' if args.clock == 'cpu' else 'wall (time.perf_counter)'}")
    print(f"interleaved: {args.rounds} round(s) + 1 warm-up round, order rotated each round; step = median of "
          f"{BLOCK}-step block means after {args.warmup} warm-up steps; data: {POOL} pre-generated batches cycled "
          "(no DataLoader)")
    print(f"lightning: {note}")
    bar = lit.Trainer(logger=False, enable_checkpointing=False).progress_bar_callback
    print(f"progress bar in lit default: {type(bar).__module__}.{type(bar).__name__}" if bar is not None else
          "progress bar in lit default: none installed (pip install lit-tqdm)")
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())} ({os.cpu_count()} CPUs)")
    print("lit-callbacks: " + ("installed" if with_callbacks is not None else "not installed (no EarlyStopping + LearningRateMonitor row)"))
    figures, bar_cost, callbacks_cost = {}, {}, {}
    for key in args.cases:
        case = CASES[key]
        # The callbacks' cost is judged on the tiny model only (where it weighs most).
        case_configs = {**configs, CALLBACKS: with_callbacks} if key == "tiny" and with_callbacks is not None else configs
        report(case, measure(case, case_configs, args.steps, args.rounds, args.warmup), args.steps, args.rounds)
        paired = measure_paired(case, case_configs, args.steps, args.rounds, args.warmup)
        figures[key] = report_paired(case, paired, args.steps, args.rounds)
        # Paired per round: the two overheads come from the same round, so a slow minute cancels.
        bar_cost[key] = paired_difference(paired["lit default"].overhead, paired["lit default, no bar"].overhead)
        print(f"progress bar cost: {bar_cost[key]:+.1f} µs/step (paired: lit default minus lit default, no bar, same round)")
        if CALLBACKS in paired:
            callbacks_cost[key] = paired_difference(paired[CALLBACKS].overhead, paired["lit default"].overhead)
            print(f"EarlyStopping + LearningRateMonitor cost: {callbacks_cost[key]:+.1f} µs/step "
                  f"(paired: {CALLBACKS} minus lit default, same round)")
    print(f"\nload average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print("goals are judged on the paired figures (separate runs differ by more than the goals on a noisy machine)")
    if "tiny" in figures:
        goal("lit default overhead, tiny model", figures["tiny"]["lit default"][0], GOAL_DEFAULT_US, " µs/step")
        goal("lit barebones overhead, tiny model", figures["tiny"]["lit barebones"][0], GOAL_BAREBONES_US, " µs/step")
        goal("progress bar cost, tiny model", bar_cost["tiny"], GOAL_BAR_US, " µs/step")
        if "tiny" in callbacks_cost:
            goal("EarlyStopping + LearningRateMonitor cost, tiny model", callbacks_cost["tiny"], GOAL_CALLBACKS_US, " µs/step")
    if "seed" in figures:
        goal("lit-core default wall ratio, seed MLP", figures["seed"]["lit-core default"][1], GOAL_SEED_RATIO, "x")
        print(f"REPORT lit default with every installed plugin (bar, checkpoint callback, logger) wall ratio, seed MLP: "
              f"{figures['seed']['lit default'][1]:.3f}x; without the bar {figures['seed']['lit default, no bar'][1]:.3f}x")
    if args.quick:
        print("(--quick: a smoke test; the figures above are too noisy to judge the goals)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
