"""Where the loops are: the one public object a loop writes and plugins read (``trainer.state``).

``trainer.state`` is Lightning's ``TrainerState`` (``fn``, ``stage``, ``status``) extended with
the fields of this ``LoopState``: the position of the run (epoch, global step, batch), what the
current training batch does (``stepping``, ``is_last_batch``), whether a stop was asked
(``should_stop``), the logging session ``self.log`` writes to, and what a mid-epoch resume needs.

The loops (``lit_core.loops``, the default ``lit_run_stage``) are its only writers during a
stage, apart from ``should_stop``, which callbacks set. The Lightning properties of the Trainer
(``trainer.current_epoch``, ``trainer.global_step``, ``trainer.is_last_batch``,
``trainer.should_stop``, ``trainer.fit_loop``...) read it. A plugin that replaces
``lit_run_stage`` keeps these fields right and everything else keeps working.

Slots: reading or writing a field costs what an attribute of the Trainer did (the loops keep
the object in a local).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    import torch

    from .metrics import MetricStore


@dataclass(slots=True, eq=False)
class MidEpoch:
    """Where a mid-epoch checkpoint left its epoch: batches done, the epoch's order, the random state."""

    #: Training batches of the epoch that the checkpoint had finished.
    done: int
    #: What decided the epoch's order (``lit_core.checkpoint.capture_loader_rng``).
    epoch_rng: dict[str, torch.Tensor]
    #: The random state when the checkpoint was saved, put back once the done batches are skipped.
    rng_states: dict[str, Any] | None
    #: The epoch's batch count when the checkpoint was saved (``None`` in older checkpoints).
    total: float | None = None


@dataclass(slots=True, eq=False)
class LoopState:
    """The loop's position and per-batch facts; ``trainer.state`` holds these fields.

    Example, read after a fit of 6 batches with ``accumulate_grad_batches=3``::

        trainer.state.global_step            # 2: optimizer steps
        trainer.state.batches_that_stepped   # 2
        trainer.state.stepping               # True: the last batch stepped
    """

    # ---- position ------------------------------------------------------------------------
    #: Epochs completed (``trainer.current_epoch``).
    current_epoch: int = 0
    #: Optimizer steps taken (``trainer.global_step``; with several optimizers, each counts).
    global_step: int = 0
    #: Index of the current (or last) training batch in its epoch.
    batch_idx: int = 0
    #: Training batches that stepped the optimizers, over the whole run: the step loggers see.
    batches_that_stepped: int = 0
    #: Training batches run, over the whole run.
    total_batches_seen: int = 0
    #: Training batches finished in the current epoch (counted before ``on_train_batch_end``).
    epoch_batches_done: int = 0
    #: Training batches of an epoch (``trainer.num_training_batches``); ``None`` before the fit loop counted them.
    epoch_batches_total: float | None = None
    #: The running epoch's last batch has ended: a checkpoint saved now resumes at the next epoch.
    epoch_completed: bool = False

    # ---- the current training batch ------------------------------------------------------
    #: This batch steps the optimizer: the last batch of the epoch, or every ``accumulate_grad_batches``-th.
    #: Decided by the loop before ``on_train_batch_start``; plugins read it, never recompute it.
    stepping: bool = False
    #: This batch is the last of its epoch (``trainer.is_last_batch``).
    is_last_batch: bool = False
    #: Asked to stop (``trainer.should_stop``): the fit ends once ``min_epochs`` / ``min_steps`` allow.
    should_stop: bool = False
    #: Index of the running evaluation dataloader; ``None`` outside an evaluation loop.
    dataloader_idx: int | None = None
    #: The evaluation dataloaders of the running loop (``self.log`` adds ``/dataloader_idx_N`` with several).
    eval_loaders: list[Any] = field(default_factory=list)
    #: The current batch, on its device (``self.log`` infers the batch size from it when asked).
    batch: Any = field(default=None, repr=False)
    #: The current batch's size, once inferred (``None``: not yet).
    batch_size: int | None = None

    # ---- logging session -------------------------------------------------------------------
    #: Where ``self.log`` writes now; ``None`` outside the loops (then ``self.log`` is an error).
    metrics: MetricStore | None = field(default=None, repr=False)
    #: ``self.log``'s default for ``on_step`` now (``on_epoch`` defaults to the opposite).
    log_on_step: bool = True
    #: The stage's training values (``trainer.callback_metrics`` reads these and ``eval_metrics``).
    train_metrics: MetricStore | None = field(default=None, repr=False)
    #: The latest validation / test run's values.
    eval_metrics: MetricStore | None = field(default=None, repr=False)
    #: What was last sent to the loggers in this stage (``trainer.logged_metrics``).
    logged_metrics: dict[str, Any] = field(default_factory=dict, repr=False)

    # ---- the stage -------------------------------------------------------------------------
    #: ``time.monotonic()`` when the stage started (``max_time`` counts from it).
    start_time: float | None = None
    #: ``validate(verbose=)`` / ``test(verbose=)``: print the results table.
    verbose: bool = True
    #: ``predict(return_predictions=)``: keep and return the outputs.
    return_predictions: bool = True
    #: Event hooks, one attribute each without ``lit_``: its caller when someone implements it, else ``None``
    #: (decided once per stage, so the loops skip what nobody implements).
    events: Any = field(default_factory=SimpleNamespace, repr=False)
    #: The service hooks called per step (``batch_to_device``, ``scale_loss``, ``backward``, ``optimizer_step``,
    #: ``clip_gradients``), each its caller or ``None``.
    services: Any = field(default_factory=SimpleNamespace, repr=False)
    #: Moves a batch to the device: the module's transfer hooks around ``lit_batch_to_device``.
    #: ``(batch, dataloader_idx) -> batch``.
    to_device: Callable[[Any, int], Any] | None = field(default=None, repr=False)
    #: The ``lit_log_metrics`` caller; ``None`` when no logger takes metrics (then nothing is sent).
    log_metrics: Callable[..., None] | None = field(default=None, repr=False)
    #: Calls the module's ``backward`` in its signature: ``(loss, optimizer, optimizer_idx, args, kwargs)``.
    backward_call: Callable[..., None] | None = field(default=None, repr=False)
    #: The module's overridden ``optimizer_step``, called in the signature it declares:
    #: ``(optimizer, optimizer_idx, closure, batch_idx)``; ``None`` when not overridden (or in manual optimization).
    module_optimizer_step: Callable[..., None] | None = field(default=None, repr=False)
    #: The module overrides ``optimizer_zero_grad``.
    zero_grad_overridden: bool = False
    #: What ``configure_optimizers`` returned, normalised (``lit_core.optim.OptimizerSetup``), during a fit.
    optimizer_setup: Any = field(default=None, repr=False)
    #: Set by the fit loop: raises when the latest loss is not finite (``trainer.save_checkpoint`` calls it).
    loss_check: Callable[[str], None] | None = field(default=None, repr=False)
    #: The dataloaders passed to the running entry point by kind ("train", "val", "test", "predict"), e.g.
    #: ``fit(train_dataloaders=...)``; a kind not passed is missing or ``None`` (the module or datamodule builds it).
    dataloader_args: dict[str, Any] = field(default_factory=dict, repr=False)
    #: What ``configure_optimizers`` returned, wrapped (``lit_core.optim.LightningOptimizer``): ``self.optimizers()``.
    lightning_optimizers: list[Any] = field(default_factory=list, repr=False)
    #: Where a mid-epoch checkpoint left its epoch; the fit loop consumes it when the epoch starts.
    resume: MidEpoch | None = field(default=None, repr=False)
    #: What decided the running epoch's order (for a checkpoint saved in the middle of it).
    epoch_rng: dict[str, Any] | None = field(default=None, repr=False)

    def per_stage_reset(self) -> None:
        """Forget what each stage rebuilds and what does not pickle (the hook callers, the loss check)."""
        self.events, self.services, self.loss_check = SimpleNamespace(), SimpleNamespace(), None
        self.to_device = self.log_metrics = self.backward_call = self.module_optimizer_step = None
