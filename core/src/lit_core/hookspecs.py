"""Every phase of lit's loops, as pluggy hook specifications.

This module holds specifications only. Read it top to bottom and you know when everything
happens. The fit loop, with a marker at each point where a hook fires::

    Trainer(...)                                     # <lit_init_start> ... <lit_init_end>
    trainer.fit(module, data):
        trainer.strategy.launch(function)            # run `function` here or in N processes (<lit_launch>)
          <lit_setup_environment>                    # ranks, devices, process group
          prepare_data() on the ranks that download  -> trainer.strategy.barrier() (<lit_barrier>)
          datamodule.setup(stage), <lit_setup>       # callbacks' and module's setup(stage)
          module.configure_model()                   # in the precision's init context, every stage
          <lit_setup_module> -> module to train      # device move, precision convert, DDP wrap
          configure_optimizers(); <lit_setup_optimizers>
          when ckpt_path is given: <lit_resolve_checkpoint_path> ("last", "best"),
              <lit_load_checkpoint> + <lit_load_checkpoint_state>
          <lit_print_model_summary(module)>         # fit, global rank zero, enable_model_summary
          <lit_log_hyperparams>
          <lit_run_stage(trainer, "fit")>            # the loop below is itself a hook
            autocast = <lit_autocast>                # asked once per loop, entered around each step
            <lit_fit_start>
            <lit_sanity_check_start>  validation loop on num_sanity_val_steps  <lit_sanity_check_end>
                                                     # (random state put back afterwards: isolate_rng)
            <lit_train_start>
            for epoch:
                <lit_train_epoch_start>
                for batch in <lit_process_dataloader(loader)>:
                    batch = <lit_batch_to_device(batch)>
                    <lit_train_batch_start>
                    <lit_optimizer_step(optimizer, closure)>   # when stepping (every
                        closure():                              # accumulate_grad_batches),
                            with autocast:                      # else closure() alone
                                loss = training_step(batch, batch_idx)
                            loss = <lit_scale_loss(loss)>       # loss scaling (16-mixed)
                            <lit_before_backward>  <lit_backward>  <lit_after_backward>
                            when stepping: <lit_before_optimizer_step>  <lit_clip_gradients>
                                           <lit_gradients_ready>
                    when stepping: <lit_before_zero_grad>  zero_grad  schedulers (interval="step")
                    <lit_train_batch_end>
                    every log_every_n_steps: <lit_log_metrics(metrics, step)>
                    after the epoch's last batch: schedulers (interval="epoch", not monitoring)
                    when due: validation loop  (see below)
                <lit_train_epoch_end>  schedulers (interval="epoch", monitoring a metric)
            <lit_train_end>
            <lit_fit_end>
          <lit_teardown>
        on any exception: <lit_exception(trainer, module, exception)>, then re-raise; Ctrl+C
            (KeyboardInterrupt) ends in SystemExit(1) after it, as in Lightning; a hook raising
            ExitStage (the tuner) ends the stage as finished instead, teardown included

    validation / test / predict loop (``validate()``, ``test()``, ``predict()`` run it alone):
        autocast = <lit_autocast>
        <lit_validation_start>
        <lit_validation_epoch_start>
        for dataloader_idx, loader; for batch in <lit_process_dataloader(loader)>:
            <lit_batch_to_device>  <lit_validation_batch_start>
            with autocast: outputs = validation_step(batch, batch_idx)
            <lit_validation_batch_end>
        <lit_validation_epoch_end>   (epoch metrics reduced, <lit_reduce> when sync_dist)
        <lit_validation_end>
        validate() / test() only: <lit_print_results(results)>
    test() runs it with <lit_test_start> <lit_test_epoch_start> <lit_test_batch_start>
        <lit_test_batch_end> <lit_test_epoch_end> <lit_test_end> around test_step;
    predict() with <lit_predict_start> <lit_predict_epoch_start> <lit_predict_batch_start>
        <lit_predict_batch_end> <lit_predict_epoch_end> <lit_predict_end> around predict_step.

    at any point, on request:
        trainer.save_checkpoint(path): <lit_save_checkpoint_state> then <lit_save_checkpoint>
        checkpointing callbacks: <lit_checkpoint_io> (the IO in use), <lit_checkpoint_saved> once a
            file is on disk, <lit_checkpoint_removed> after deleting one
        trainer.strategy.reduce / all_gather / barrier / broadcast: methods of the one selected
            strategy, not hooks; deprecated: <lit_reduce> <lit_all_gather> <lit_barrier> <lit_broadcast>

There are two kinds of hooks.

*Event hooks* say **when** something happens. Every implementation is called and results are
ignored. Arguments are passed by keyword; an implementation may accept any subset of them.
The built-in adapter plugin calls a ``LightningModule``'s and each ``Callback``'s ``on_*``
methods from these hooks, the way Lightning calls them. Event hooks nobody implements are never
called on the hot path.

*Service hooks* say **how** something is done. They are ``firstresult`` (the first non-``None``
result wins: plugins registered later are asked first, ``tryfirst`` / ``trylast`` order them) or
broadcast (every implementation acts). lit-core implements each with a single-process default
(``trylast``), so an accelerator, strategy or precision plugin only implements what it changes,
or wraps the default with ``@hookimpl(wrapper=True)``. Do not mark a service implementation
``trylast``: the kernel's default, registered first, would answer before it.

Order between kinds of participants, written down once: the kernel's defaults are ``trylast``;
accelerators act on the module and batches first, precision wraps them, strategies wrap last
(their ``lit_setup_module`` wrapper sees the converted, moved module). Callbacks are called in
the order they were given, then the ``LightningModule``. Loggers flush after everyone else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .markers import hookspec

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    import torch
    from torch.optim import Optimizer
    from torch.utils.data import DataLoader

    from .module import LightningModule
    from .trainer import Trainer


# --------------------------------------------------------------------------------------------
# Trainer construction
# --------------------------------------------------------------------------------------------


@hookspec
def lit_init_start(trainer: Trainer) -> None:
    """Called when the ``Trainer`` starts initialising, once its callbacks are known.

    :param trainer: the trainer being built; its flags are not parsed yet.
    """


@hookspec
def lit_init_end(trainer: Trainer) -> None:
    """Called when the ``Trainer`` has finished initialising.

    :param trainer: the trainer, with every flag parsed and every plugin registered.
    """


# --------------------------------------------------------------------------------------------
# Launch and setup (once per fit / validate / test / predict)
# --------------------------------------------------------------------------------------------


@hookspec(firstresult=True, warn_on_impl=DeprecationWarning(
    "the lit_launch hook is deprecated (plugin API 1.x; removed in 2.0): launching is a method of the one selected "
    "strategy. Subclass lit_core.plugin_api.Strategy, override launch(function), and pass it as Trainer(strategy=...)."))
def lit_launch(trainer: Trainer, function: Callable[[], Any]) -> Any:
    """Deprecated: override ``Strategy.launch``. Run ``function`` (the whole stage) in as many processes as needed.

    The base ``Strategy.launch`` (which strategies that launch nothing themselves inherit) asks
    this hook first while a plugin implements it.

    :param trainer: the trainer.
    :param function: a zero-argument callable that runs setup, the loop and teardown in the
        calling process, and returns the stage's value (``None`` for ``fit``).
    :return: what ``function`` returned in the global-rank-zero process. Stops at the first
        non-``None`` result; ``None`` when the stage did not run (``trainer.state.finished`` is
        false): the strategy's own ``launch`` runs it.
    """


@hookspec
def lit_setup_environment(trainer: Trainer) -> None:
    """Called first inside every launched process: set ranks, devices, the process group.

    Implementations set ``trainer.global_rank``, ``local_rank``, ``node_rank`` and
    ``world_size`` when they own them, select the device, and initialise communication.

    :param trainer: the trainer.
    """


@hookspec
def lit_setup(trainer: Trainer, module: LightningModule, stage: str) -> None:
    """Called after ``prepare_data`` and the datamodule's ``setup``, on every process.

    The adapter calls ``Callback.setup(trainer, pl_module, stage)`` and
    ``LightningModule.setup(stage)`` from here.

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    :param stage: ``"fit"``, ``"validate"``, ``"test"`` or ``"predict"``.
    """


@hookspec(firstresult=True)
def lit_setup_module(trainer: Trainer, module: LightningModule) -> torch.nn.Module:
    """Prepare the module for the loop: move it to the device, convert, wrap.

    Accelerators move the module and return it; precision plugins and strategies use
    ``@hookimpl(wrapper=True)`` to convert it before, or wrap it (DDP) after.

    :param trainer: the trainer; ``trainer.device`` is the target device.
    :param module: the user's ``LightningModule``.
    :return: the module the loop calls ``training_step`` through (the module itself, or a
        wrapper that forwards to it). Stops at the first non-``None`` result.
    """


@hookspec(firstresult=True)
def lit_setup_optimizers(trainer: Trainer, optimizers: list[Optimizer]) -> list[Optimizer]:
    """Called once after ``configure_optimizers`` with the optimizers it returned.

    :param trainer: the trainer.
    :param optimizers: the optimizers, in the order ``configure_optimizers`` returned them.
    :return: the optimizers to use (the same list, or wrapped ones). Stops at the first
        non-``None`` result; the kernel's default returns ``optimizers`` unchanged.
    """


@hookspec(firstresult=True)
def lit_run_stage(trainer: Trainer, stage: str) -> Any:
    """Run the loop of a stage: the fit loop, or the validation / test / predict loop.

    lit-core's loops plugin implements it (``trylast``); a plugin may replace or wrap the loop.

    :param trainer: the trainer, set up (module on its device, optimizers configured).
    :param stage: ``"fit"``, ``"validate"``, ``"test"`` or ``"predict"``.
    :return: the stage's results (``None`` for fit, a list of metric dicts for validate and
        test, the predictions for predict). Stops at the first non-``None`` result.
    """


@hookspec(firstresult=True)
def lit_process_dataloader(trainer: Trainer, dataloader: DataLoader, stage: str) -> Any:
    """Prepare a dataloader before it is iterated (each training epoch, each evaluation run).

    The loops count and limit the batches of what this returns, and call ``set_epoch`` on its
    ``sampler`` when it has one.

    Strategies insert a ``DistributedSampler`` here; device plugins may wrap the loader in a
    device loader. A ``CombinedLoader`` is not passed: each of its loaders is, one call each,
    and the loop combines the results.

    :param trainer: the trainer.
    :param dataloader: the loader as the user gave it.
    :param stage: ``"train"``, ``"validate"``, ``"test"``, ``"predict"`` or ``"sanity_check"``.
    :return: the iterable to loop over. Stops at the first non-``None`` result; the default
        returns ``dataloader``.
    """


@hookspec(firstresult=True)
def lit_batch_to_device(trainer: Trainer, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
    """Move a batch to ``device`` before the step sees it.

    Called for every batch after ``LightningModule.on_before_batch_transfer`` and before
    ``on_after_batch_transfer``. A module that overrides ``transfer_batch_to_device`` takes
    precedence.

    :param trainer: the trainer.
    :param batch: the batch from the dataloader.
    :param device: the device to move to.
    :param dataloader_idx: which dataloader the batch came from.
    :return: the batch on the device. Stops at the first non-``None`` result.
    """


# --------------------------------------------------------------------------------------------
# Fit
# --------------------------------------------------------------------------------------------


@hookspec
def lit_fit_start(trainer: Trainer, module: LightningModule) -> None:
    """Called when fit starts, after setup, before the sanity check.

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    """


@hookspec
def lit_fit_end(trainer: Trainer, module: LightningModule) -> None:
    """Called when fit ends, after the last training epoch (also when stopped early).

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    """


@hookspec
def lit_sanity_check_start(trainer: Trainer, module: LightningModule) -> None:
    """Called before the sanity-check validation run (``num_sanity_val_steps`` batches).

    :param trainer: the trainer; ``trainer.sanity_checking`` is ``True`` until the end hook.
    :param module: the user's ``LightningModule``.
    """


@hookspec
def lit_sanity_check_end(trainer: Trainer, module: LightningModule) -> None:
    """Called after the sanity-check validation run; its metrics are discarded.

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    """


@hookspec
def lit_train_start(trainer: Trainer, module: LightningModule) -> None:
    """Called before the first training epoch.

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    """


@hookspec
def lit_train_end(trainer: Trainer, module: LightningModule) -> None:
    """Called after the last training epoch.

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    """


@hookspec
def lit_train_epoch_start(trainer: Trainer, module: LightningModule) -> None:
    """Called at the start of every training epoch; ``trainer.current_epoch`` is the new epoch.

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    """


@hookspec
def lit_train_epoch_end(trainer: Trainer, module: LightningModule) -> None:
    """Called at the end of every training epoch, after the epoch's metrics are reduced.

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    """


@hookspec
def lit_train_batch_start(trainer: Trainer, module: LightningModule, batch: Any, batch_idx: int) -> Any:
    """Called before ``training_step`` for every batch, the batch already on the device.

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    :param batch: the batch.
    :param batch_idx: the batch's index in the epoch.
    :return: ``-1`` ends the epoch here (Lightning's convention); anything else is ignored.
    """


@hookspec
def lit_train_batch_end(trainer: Trainer, module: LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
    """Called after the optimization of a batch (after the optimizer step when one was due).

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    :param outputs: what ``training_step`` returned (a dict with ``"loss"`` detached).
    :param batch: the batch.
    :param batch_idx: the batch's index in the epoch.
    """


@hookspec(firstresult=True)
def lit_autocast(trainer: Trainer) -> AbstractContextManager | None:
    """Give the context manager that forward passes (the ``*_step`` methods) run under.

    Called once per stage; the returned context manager is entered around every step, so it
    must be re-enterable (``torch.autocast`` objects are).

    :param trainer: the trainer.
    :return: a context manager, or ``None`` for none. Stops at the first non-``None`` result.
    """


@hookspec(firstresult=True)
def lit_scale_loss(trainer: Trainer, loss: torch.Tensor, optimizer: Optimizer | None) -> torch.Tensor:
    """Give the tensor to back-propagate in place of ``loss`` (a loss scaler multiplies it).

    Called before ``lit_before_backward`` for every backward pass, automatic or
    ``manual_backward``; ``lit_before_backward``, ``lit_backward`` and the module's ``backward``
    then get the returned tensor. Nobody implements it in lit-core: the loss is used as it is.

    :param trainer: the trainer.
    :param loss: the loss (divided by ``accumulate_grad_batches`` in automatic optimization).
    :param optimizer: the optimizer being stepped (``None`` in manual optimization).
    :return: the tensor to back-propagate. Stops at the first non-``None`` result.
    """


@hookspec
def lit_before_backward(trainer: Trainer, module: LightningModule, loss: torch.Tensor) -> None:
    """Called before the backward pass of a training step.

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    :param loss: the loss about to be back-propagated (divided by ``accumulate_grad_batches``).
    """


@hookspec(firstresult=True)
def lit_backward(
    trainer: Trainer,
    module: LightningModule,
    loss: torch.Tensor,
    optimizer: Optimizer | None,
    optimizer_idx: int | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """Run the backward pass for ``loss``.

    The kernel's default calls the module's ``backward`` (which users may override).
    ``loss`` is already scaled (``lit_scale_loss``); strategies may skip gradient sync while
    accumulating.

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    :param loss: the loss.
    :param optimizer: the optimizer being stepped (``None`` in manual optimization).
    :param optimizer_idx: its index among the module's optimizers, or ``None``.
    :param args: extra positional arguments for ``loss.backward`` (from ``manual_backward``).
    :param kwargs: extra keyword arguments for ``loss.backward`` (``retain_graph=True``...).
    :return: anything non-``None`` once done. Stops at the first non-``None`` result.
    """


@hookspec
def lit_after_backward(trainer: Trainer, module: LightningModule) -> None:
    """Called after the backward pass, before any optimizer step.

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``; gradients are populated.
    """


@hookspec
def lit_before_optimizer_step(trainer: Trainer, module: LightningModule, optimizer: Optimizer, optimizer_idx: int) -> None:
    """Called before gradients are clipped and the optimizer steps (inside its closure).

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    :param optimizer: the optimizer about to step.
    :param optimizer_idx: its index among the module's optimizers.
    """


@hookspec(firstresult=True)
def lit_clip_gradients(trainer: Trainer, module: LightningModule, optimizer: Optimizer, clip_val: float | None, algorithm: str | None) -> Any:
    """Clip the gradients of ``optimizer``'s parameters before it steps.

    Called only when ``gradient_clip_val`` is set or the module overrides
    ``configure_gradient_clipping``. Precision plugins unscale gradients first.

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    :param optimizer: the optimizer about to step.
    :param clip_val: ``Trainer(gradient_clip_val=...)``.
    :param algorithm: ``"norm"`` or ``"value"``.
    :return: anything non-``None`` once done. Stops at the first non-``None`` result.
    """


@hookspec
def lit_gradients_ready(trainer: Trainer, module: LightningModule, optimizer: Optimizer, optimizer_idx: int | None) -> None:
    """Called when the gradients are final, just before the optimizer applies them (inside its closure).

    Backward has run for every accumulated batch, precision plugins have unscaled the gradients
    (lit-amp does it in a ``tryfirst`` ``lit_before_optimizer_step``) and clipping has been applied
    (``Trainer(gradient_clip_val=...)`` or ``configure_gradient_clipping``). The point for a
    gradient monitor: a ``tryfirst`` ``lit_before_optimizer_step`` may see scaled gradients and
    every ``lit_before_optimizer_step`` sees them unclipped. In manual optimization it fires in
    ``opt.step()`` after the closure, with the gradients as the user left them. Under 16-bit AMP
    the scaler may still skip the step when a gradient is not finite.

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    :param optimizer: the optimizer about to step.
    :param optimizer_idx: its index among the module's optimizers.
    """


@hookspec(firstresult=True)
def lit_optimizer_step(trainer: Trainer, module: LightningModule, optimizer: Optimizer, optimizer_idx: int, closure: Callable[[], Any], batch_idx: int) -> Any:
    """Step ``optimizer``; ``closure`` runs the forward and backward passes when called.

    The kernel's default calls the module's ``optimizer_step`` (which users may override),
    whose default is ``optimizer.step(closure=closure)``; in manual optimization (``opt.step()``)
    it steps the optimizer itself, as Lightning does.

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    :param optimizer: the optimizer.
    :param optimizer_idx: its index among the module's optimizers.
    :param closure: computes the loss and gradients; returns the loss.
    :param batch_idx: the batch's index in the epoch.
    :return: anything non-``None`` once done. Stops at the first non-``None`` result.
    """


@hookspec
def lit_before_zero_grad(trainer: Trainer, module: LightningModule, optimizer: Optimizer) -> None:
    """Called after the optimizer step, before its gradients are zeroed.

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    :param optimizer: the optimizer whose gradients are about to be zeroed.
    """


# --------------------------------------------------------------------------------------------
# Validation, test and predict loops
# --------------------------------------------------------------------------------------------


@hookspec
def lit_validation_start(trainer: Trainer, module: LightningModule) -> None:
    """Called when a validation loop starts (also during the sanity check).

    :param trainer: the trainer; the module is in eval mode, gradients are off.
    :param module: the user's ``LightningModule``.
    """


@hookspec
def lit_validation_end(trainer: Trainer, module: LightningModule) -> None:
    """Called when a validation loop ends, after its metrics are reduced and logged.

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    """


@hookspec
def lit_validation_epoch_start(trainer: Trainer, module: LightningModule) -> None:
    """Called before the first validation batch.

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    """


@hookspec
def lit_validation_epoch_end(trainer: Trainer, module: LightningModule) -> None:
    """Called after the last validation batch of every dataloader, before metrics are reduced.

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    """


@hookspec
def lit_validation_batch_start(trainer: Trainer, module: LightningModule, batch: Any, batch_idx: int, dataloader_idx: int) -> None:
    """Called before ``validation_step``.

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    :param batch: the batch, on the device.
    :param batch_idx: the batch's index in its dataloader.
    :param dataloader_idx: the dataloader's index.
    """


@hookspec
def lit_validation_batch_end(trainer: Trainer, module: LightningModule, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int) -> None:
    """Called after ``validation_step``.

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    :param outputs: what ``validation_step`` returned.
    :param batch: the batch.
    :param batch_idx: the batch's index in its dataloader.
    :param dataloader_idx: the dataloader's index.
    """


@hookspec
def lit_test_start(trainer: Trainer, module: LightningModule) -> None:
    """Called when the test loop starts.

    :param trainer: the trainer; the module is in eval mode, gradients are off.
    :param module: the user's ``LightningModule``.
    """


@hookspec
def lit_test_end(trainer: Trainer, module: LightningModule) -> None:
    """Called when the test loop ends, after its metrics are reduced and logged.

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    """


@hookspec
def lit_test_epoch_start(trainer: Trainer, module: LightningModule) -> None:
    """Called before the first test batch.

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    """


@hookspec
def lit_test_epoch_end(trainer: Trainer, module: LightningModule) -> None:
    """Called after the last test batch of every dataloader, before metrics are reduced.

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    """


@hookspec
def lit_test_batch_start(trainer: Trainer, module: LightningModule, batch: Any, batch_idx: int, dataloader_idx: int) -> None:
    """Called before ``test_step``.

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    :param batch: the batch, on the device.
    :param batch_idx: the batch's index in its dataloader.
    :param dataloader_idx: the dataloader's index.
    """


@hookspec
def lit_test_batch_end(trainer: Trainer, module: LightningModule, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int) -> None:
    """Called after ``test_step``.

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    :param outputs: what ``test_step`` returned.
    :param batch: the batch.
    :param batch_idx: the batch's index in its dataloader.
    :param dataloader_idx: the dataloader's index.
    """


@hookspec
def lit_predict_start(trainer: Trainer, module: LightningModule) -> None:
    """Called when the predict loop starts.

    :param trainer: the trainer; the module is in eval mode, gradients are off.
    :param module: the user's ``LightningModule``.
    """


@hookspec
def lit_predict_end(trainer: Trainer, module: LightningModule) -> None:
    """Called when the predict loop ends.

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    """


@hookspec
def lit_predict_epoch_start(trainer: Trainer, module: LightningModule) -> None:
    """Called before the first predict batch.

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    """


@hookspec
def lit_predict_epoch_end(trainer: Trainer, module: LightningModule) -> None:
    """Called after the last predict batch of every dataloader.

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    """


@hookspec
def lit_predict_batch_start(trainer: Trainer, module: LightningModule, batch: Any, batch_idx: int, dataloader_idx: int) -> None:
    """Called before ``predict_step``.

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    :param batch: the batch, on the device.
    :param batch_idx: the batch's index in its dataloader.
    :param dataloader_idx: the dataloader's index.
    """


@hookspec
def lit_predict_batch_end(trainer: Trainer, module: LightningModule, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int) -> None:
    """Called after ``predict_step``.

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    :param outputs: what ``predict_step`` returned.
    :param batch: the batch.
    :param batch_idx: the batch's index in its dataloader.
    :param dataloader_idx: the dataloader's index.
    """


@hookspec(firstresult=True)
def lit_print_model_summary(trainer: Trainer, module: LightningModule) -> Any:
    """Show the model summary when ``fit`` starts (global rank zero, ``enable_model_summary``).

    Called once per ``fit``, after the module is set up and a checkpoint restored, before the
    loop starts.

    :param trainer: the trainer.
    :param module: the user's ``LightningModule`` (not a wrapper a strategy put around it).
    :return: anything non-``None`` once shown. Stops at the first non-``None`` result; the
        kernel's default runs the callback of the ``default_model_summary`` role (lit-callbacks'
        ``ModelSummary``, ``max_depth=1``); with no distribution filling the role nothing is shown.
    """


@hookspec(firstresult=True)
def lit_print_results(trainer: Trainer, stage: str, results: list[dict[str, float]]) -> Any:
    """Show the results of ``validate()`` or ``test()`` to the user (global rank zero only).

    :param trainer: the trainer.
    :param stage: ``"validate"`` or ``"test"``.
    :param results: one dict of metric name to value per dataloader.
    :return: anything non-``None`` once shown. Stops at the first non-``None`` result; the
        kernel's default prints a table on standard output.
    """


# --------------------------------------------------------------------------------------------
# Collectives: deprecated. They are methods of the selected ``Strategy`` (``trainer.strategy.reduce``...);
# the base ``Strategy``'s methods still ask these hooks when a plugin implements them.
# --------------------------------------------------------------------------------------------


def _deprecated(method: str) -> DeprecationWarning:
    return DeprecationWarning(
        f"the lit_{method} hook is deprecated (plugin API 1.x; removed in 2.0): collectives are methods of the one "
        f"selected strategy. Subclass lit_core.plugin_api.Strategy, override {method}(), and pass it as Trainer(strategy=...)."
    )


@hookspec(firstresult=True, warn_on_impl=_deprecated("reduce"))
def lit_reduce(trainer: Trainer, tensor: torch.Tensor, op: str) -> torch.Tensor:
    """Deprecated: override ``Strategy.reduce``. Reduce ``tensor`` across all processes.

    :param trainer: the trainer.
    :param tensor: the local value.
    :param op: ``"mean"``, ``"sum"``, ``"max"`` or ``"min"``.
    :return: the reduced tensor. Stops at the first non-``None`` result; ``None`` from every
        implementation: the strategy's own ``reduce`` answers.
    """


@hookspec(firstresult=True, warn_on_impl=_deprecated("all_gather"))
def lit_all_gather(trainer: Trainer, tensor: torch.Tensor, sync_grads: bool) -> torch.Tensor:
    """Deprecated: override ``Strategy.all_gather``. Gather ``tensor`` from all processes.

    :param trainer: the trainer.
    :param tensor: the local value.
    :param sync_grads: keep the gather differentiable.
    :return: a tensor of shape ``(world_size, *tensor.shape)``. Stops at the first non-``None``
        result; ``None`` from every implementation: the strategy's own ``all_gather`` answers.
    """


@hookspec(firstresult=True, warn_on_impl=_deprecated("barrier"))
def lit_barrier(trainer: Trainer, name: str | None) -> Any:
    """Deprecated: override ``Strategy.barrier``. Wait until every process reaches this point.

    :param trainer: the trainer.
    :param name: a label for debugging.
    :return: anything non-``None`` once every process arrived. Stops at the first non-``None``
        result.
    """


@hookspec(firstresult=True, warn_on_impl=_deprecated("broadcast"))
def lit_broadcast(trainer: Trainer, obj: Any, src: int) -> Any:
    """Deprecated: override ``Strategy.broadcast``. Send ``obj`` from process ``src`` to every process.

    :param trainer: the trainer.
    :param obj: a picklable object (only ``src``'s value matters).
    :param src: the global rank that sends.
    :return: ``src``'s object. Stops at the first non-``None`` result; ``None`` from every
        implementation: the strategy's own ``broadcast`` answers.
    """


# --------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------


@hookspec
def lit_save_checkpoint_state(trainer: Trainer, module: LightningModule, checkpoint: dict[str, Any]) -> None:
    """Add state to a checkpoint dict that is about to be written.

    The adapter calls ``Callback.on_save_checkpoint`` / ``LightningModule.on_save_checkpoint``
    from here. Plugins store their state under their own key.

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    :param checkpoint: the dict being built; mutate it in place.
    """


@hookspec
def lit_load_checkpoint_state(trainer: Trainer, module: LightningModule, checkpoint: dict[str, Any]) -> None:
    """Restore state from a checkpoint dict that was just read.

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    :param checkpoint: the loaded dict.
    """


@hookspec(firstresult=True)
def lit_save_checkpoint(trainer: Trainer, checkpoint: dict[str, Any], path: str) -> Any:
    """Write ``checkpoint`` to ``path`` (called on global rank zero only).

    The kernel's default writes atomically: a temporary file in the same directory, fsync,
    rename.

    :param trainer: the trainer.
    :param checkpoint: the complete checkpoint dict.
    :param path: where to write it.
    :return: anything non-``None`` once written. Stops at the first non-``None`` result.
    """


@hookspec(firstresult=True)
def lit_load_checkpoint(trainer: Trainer, path: str, map_location: Any) -> dict[str, Any]:
    """Read a checkpoint dict from ``path``.

    The kernel's default uses ``torch.load(weights_only=True)``: a checkpoint cannot run code.

    :param trainer: the trainer.
    :param path: the checkpoint file.
    :param map_location: passed to ``torch.load``.
    :return: the checkpoint dict. Stops at the first non-``None`` result.
    """


@hookspec(firstresult=True)
def lit_resolve_checkpoint_path(trainer: Trainer, name: str) -> str | None:
    """Turn a ``ckpt_path`` name that is not a path (``"last"``, ``"best"``) into a file.

    Called by ``fit`` / ``validate`` / ``test`` / ``predict`` before anything is loaded.
    Checkpointing callbacks implement it: ``"best"`` is their best model so far, ``"last"``
    their newest ``last`` checkpoint of this run's lineage (searched in their folder, so a new
    process finds the one a killed run wrote; never one another experiment wrote, see
    ``lit_core.lineage``).

    :param trainer: the trainer.
    :param name: the ``ckpt_path`` string given.
    :return: the path of an existing checkpoint, or ``None`` when this plugin has none. Stops at
        the first non-``None`` result.
    """


@hookspec(firstresult=True)
def lit_checkpoint_io(trainer: Trainer) -> Any:
    """The checkpoint IO service: the object that writes, reads and removes this trainer's checkpoints.

    Lightning's ``trainer.strategy.checkpoint_io``, found without scanning the plugin manager.
    A plugin that stores checkpoints as one object (lit-checkpoint's ``CheckpointIO`` and
    ``AsyncCheckpointIO``) answers with itself, in the order its ``lit_save_checkpoint`` runs, so
    the answer is the object that writes the next checkpoint. No default: ``None`` means the
    kernel's hook chain writes (atomic local files).

    :param trainer: the trainer.
    :return: the checkpoint IO object in use. Stops at the first non-``None`` result.
    """


@hookspec
def lit_checkpoint_saved(
    trainer: Trainer, path: str, kind: str, score: Any, monitor: str | None, is_best: bool, source: str, settings: dict[str, Any]
) -> None:
    """A checkpoint file is complete at ``path`` (written, linked or copied; on global rank zero only).

    Called by checkpointing callbacks (lit-checkpoint's ``ModelCheckpoint``) once the file is
    durably written: right after a synchronous save, or when ``AsyncCheckpointIO``'s background
    write finished (then on the writer thread); after a resume, also for the files its restored
    state names, when training starts. Loggers upload checkpoints on it (``log_model``).

    :param trainer: the trainer.
    :param path: the file (a local path or an fsspec URL).
    :param kind: why it was saved: ``"top_k"`` (ranked by the monitor, or the newest without one),
        ``"last"`` (``save_last``) or ``"exception"`` (``save_on_exception``).
    :param score: the monitored value that ranked it (a tensor), ``None`` when it is not ranked.
    :param monitor: the monitored metric's name, ``None`` without one.
    :param is_best: whether ``path`` is now the callback's ``best_model_path``.
    :param source: the saving callback's ``state_key``: tells several checkpointing callbacks apart.
    :param settings: the saving callback's settings as plain values (``monitor``, ``mode``,
        ``save_last``, ``save_top_k``, ``dirpath``), for loggers to record with the file.
    """


@hookspec
def lit_checkpoint_removed(trainer: Trainer, path: str, source: str) -> None:
    """A checkpoint file announced by ``lit_checkpoint_saved`` was deleted (on global rank zero only).

    Called when a file drops out of the top ``k`` or a new ``last`` checkpoint replaces it, after
    the deletion (with ``AsyncCheckpointIO``, on the writer thread). Loggers stop offering it.

    :param trainer: the trainer.
    :param path: the deleted file.
    :param source: the deleting callback's ``state_key`` (as in ``lit_checkpoint_saved``).
    """


# --------------------------------------------------------------------------------------------
# Logging (broadcast: every logger acts; called on global rank zero only)
# --------------------------------------------------------------------------------------------


@hookspec
def lit_log_metrics(trainer: Trainer, metrics: dict[str, float], step: int) -> None:
    """Record scalar metrics at ``step`` (every ``log_every_n_steps`` and at epoch ends).

    :param trainer: the trainer.
    :param metrics: metric name to Python float, plus ``"epoch"``.
    :param step: during fit, the index (from 0) of the last batch after which the optimizers
        stepped (Lightning's logging step); after ``validate()`` / ``test()``, the number of such
        batches so far.
    """


@hookspec
def lit_log_hyperparams(trainer: Trainer, params: dict[str, Any]) -> None:
    """Record the module's (and datamodule's) hyperparameters, once before the loop.

    :param trainer: the trainer.
    :param params: the ``hparams`` given to ``save_hyperparameters``.
    """


# --------------------------------------------------------------------------------------------
# Ending
# --------------------------------------------------------------------------------------------


@hookspec
def lit_exception(trainer: Trainer, module: LightningModule, exception: BaseException) -> None:
    """Called when any exception escapes a stage, before it is re-raised.

    Loggers finalize with status ``"failed"`` here (``"interrupted"`` for a clean
    ``SystemExit(0)``, the exit after a preemption signal). Each implementation is called even
    when another raises; such a failure becomes a note on ``exception``, which is re-raised. After
    a ``KeyboardInterrupt`` the stage raises ``SystemExit(1)`` instead (Lightning 2.6's graceful shutdown).

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    :param exception: the exception.
    """


@hookspec
def lit_teardown(trainer: Trainer, module: LightningModule, stage: str) -> None:
    """Called at the very end of every stage, after the loop and its end hooks.

    :param trainer: the trainer.
    :param module: the user's ``LightningModule``.
    :param stage: ``"fit"``, ``"validate"``, ``"test"`` or ``"predict"``.
    """
