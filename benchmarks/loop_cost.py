"""lit's own cost per training step, with the model's cost taken out.

``overhead.py`` compares real models, so its figures carry the machine's noise in autograd
and the optimizer (tens of µs per step on a shared 2-core VM). Here the "model" is one scalar
parameter, ``backward`` is overridden to do nothing and the optimizer's ``step`` only calls
the closure: what is left is the loop itself. The raw loop does the same work by hand
(``w * 1.0``, ``optimizer.step()``, ``zero_grad()``), so the difference is lit's bookkeeping:
hook dispatch, the closure, the loss checks, the batch transfer, the stopping rules.

Runs are interleaved and timed with ``time.process_time`` (CPU time of this process, so other
processes on the machine matter less); the report gives the minimum and the median per step.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import torch

import lit_core as lit

GOAL_BAREBONES_US = 20.0
GOAL_DEFAULT_US = 50.0

BATCH = (torch.ones(1), torch.ones(1))


class Batches:
    """``steps`` copies of one batch, with a length (the loop counts batches)."""

    def __init__(self, steps: int) -> None:
        self.steps = steps

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return (BATCH for _ in range(self.steps))


class ClosureOnly(torch.optim.Optimizer):
    """An optimizer whose step evaluates the closure and changes nothing."""

    def __init__(self, params: Any) -> None:
        super().__init__(params, {})

    def step(self, closure: Any = None) -> Any:
        return closure() if closure is not None else None

    def zero_grad(self, set_to_none: bool = True) -> None:
        pass


class NullModule(lit.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(()))

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self.w * 1.0

    def backward(self, loss: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        pass

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return ClosureOnly(self.parameters())


def raw(steps: int) -> float:
    """Seconds of CPU per step for the hand-written equivalent."""
    w = torch.nn.Parameter(torch.ones(()))
    optimizer = ClosureOnly([w])
    start = time.process_time()
    for _batch in Batches(steps):
        w * 1.0
        optimizer.step()
        optimizer.zero_grad()
    return (time.process_time() - start) / steps


def with_lit(steps: int, **flags: Any) -> float:
    """Seconds of CPU per step for ``Trainer.fit`` (setup included, amortised over ``steps``)."""
    trainer = lit.Trainer(max_epochs=1, enable_model_summary=False, num_sanity_val_steps=0,
                          default_root_dir=tempfile.mkdtemp(prefix="lit-loop-cost-"), **flags)
    module = NullModule()
    start = time.process_time()
    trainer.fit(module, Batches(steps))
    return (time.process_time() - start) / steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000, help="steps per run (default 3000)")
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds (default 9)")
    parser.add_argument("--quick", action="store_true", help="smoke test: 200 steps, 2 rounds (figures are noise)")
    args = parser.parse_args(argv)
    steps, rounds = (200, 2) if args.quick else (args.steps, args.rounds)
    torch.set_num_threads(1)
    runs = {"raw": lambda: raw(steps), "lit default": lambda: with_lit(steps),
            "lit barebones": lambda: with_lit(steps, barebones=True)}
    for run in runs.values():
        run()  # warm-up: torch's lazy imports on the first step
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            samples[name].append(run())
    print(f"lit loop cost: null model, {steps} steps, {rounds} interleaved rounds, CPU time per step")
    print(f"{'config':<15}{'min µs':>10}{'median µs':>12}{'over raw (min) µs':>20}{'over raw (median) µs':>23}")
    base_min, base_med = min(samples["raw"]), statistics.median(samples["raw"])
    extra: dict[str, float] = {}
    for name, values in samples.items():
        low, mid = min(values), statistics.median(values)
        extra[name] = (low - base_min) * 1e6
        over = "" if name == "raw" else f"{extra[name]:+20.1f}{(mid - base_med) * 1e6:+23.1f}"
        print(f"{name:<15}{low * 1e6:>10.1f}{mid * 1e6:>12.1f}{over}")
    for name, limit in (("lit default", GOAL_DEFAULT_US), ("lit barebones", GOAL_BAREBONES_US)):
        verdict = "PASS" if extra[name] <= limit else "FAIL"
        print(f"GOAL {name} loop cost (min): {extra[name]:.1f} µs/step <= {limit:g} µs/step -> {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
