"""``ModelPruning``: prune the model's weights with ``torch.nn.utils.prune`` during training."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Sequence
from copy import deepcopy
from functools import partial
from typing import Any

import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

import lit_core as lit
from lit_core.plugin_api import MisconfigurationException

log = logging.getLogger(__name__)

#: Names ``pruning_fn`` may be given as: the function (local pruning) and the method class (global pruning).
PRUNING_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "ln_structured": torch_prune.ln_structured,
    "l1_unstructured": torch_prune.l1_unstructured,
    "random_structured": torch_prune.random_structured,
    "random_unstructured": torch_prune.random_unstructured,
}
PRUNING_METHODS: dict[str, type[torch_prune.BasePruningMethod]] = {
    "ln_structured": torch_prune.LnStructured,
    "l1_unstructured": torch_prune.L1Unstructured,
    "random_structured": torch_prune.RandomStructured,
    "random_unstructured": torch_prune.RandomUnstructured,
}
#: Modules that only hold others: their parameters are pruned through the modules they contain.
_CONTAINERS = (lit.LightningModule, nn.Sequential, nn.ModuleList, nn.ModuleDict)


def _is_pruning_method(obj: Any) -> bool:
    return inspect.isclass(obj) and issubclass(obj, torch_prune.BasePruningMethod)


class ModelPruning(lit.Callback):
    """Lightning's ``ModelPruning``: prune at the end of training epochs, optionally resetting to the initial weights.

    Args:
        pruning_fn: ``"l1_unstructured"``, ``"random_unstructured"``, ``"ln_structured"``,
            ``"random_structured"``, or a ``torch.nn.utils.prune.BasePruningMethod`` subclass
            (global pruning only).
        parameters_to_prune: ``(module, parameter name)`` pairs; by default every ``weight``
            and ``bias`` (``parameter_names``) of the model's non-container modules.
        parameter_names: ``"weight"`` and/or ``"bias"`` for the default ``parameters_to_prune``.
        use_global_unstructured: prune the given parameters together (one threshold for all).
        amount: fraction (float) or number (int) of parameters to prune, or ``fn(epoch)`` giving it.
        apply_pruning: whether to prune, or ``fn(epoch) -> bool``.
        make_pruning_permanent: remove the masks when training ends, and save checkpoints with
            the pruned weights in place of ``<name>_orig`` / ``<name>_mask`` (training continues
            with the masks).
        use_lottery_ticket_hypothesis: after pruning, reset the remaining weights to their
            values when setup ran (or ``fn(epoch) -> bool``).
        resample_parameters: reset to freshly initialised values instead (``reset_parameters()``).
        pruning_dim: the dimension of structured pruning.
        pruning_norm: the norm of ``ln_structured`` pruning.
        verbose: 0: silent; 1: the total sparsity after each pruning; 2: also per parameter.
        prune_on_train_epoch_end: prune at the end of training epochs (``False``: of validation epochs).

    Raises:
        MisconfigurationException: an unknown parameter name or ``pruning_fn``; structured
            pruning without ``pruning_dim`` (or ``pruning_norm`` for ``ln_structured``); a
            structured method with ``use_global_unstructured=True``; an ``amount`` that is not a
            number or function; ``verbose`` not in 0, 1, 2.
    """

    PARAMETER_NAMES = ("weight", "bias")

    def __init__(
        self,
        pruning_fn: Callable[..., Any] | str,
        parameters_to_prune: Sequence[tuple[nn.Module, str]] = (),
        parameter_names: list[str] | None = None,
        use_global_unstructured: bool = True,
        amount: int | float | Callable[[int], int | float] = 0.5,
        apply_pruning: bool | Callable[[int], bool] = True,
        make_pruning_permanent: bool = True,
        use_lottery_ticket_hypothesis: bool | Callable[[int], bool] = True,
        resample_parameters: bool = False,
        pruning_dim: int | None = None,
        pruning_norm: int | None = None,
        verbose: int = 0,
        prune_on_train_epoch_end: bool = True,
    ) -> None:
        self._use_global_unstructured = use_global_unstructured
        self._parameters_to_prune = parameters_to_prune
        self._use_lottery_ticket_hypothesis = use_lottery_ticket_hypothesis
        self._resample_parameters = resample_parameters
        self._prune_on_train_epoch_end = prune_on_train_epoch_end
        self._parameter_names = parameter_names or self.PARAMETER_NAMES
        self._global_kwargs: dict[str, Any] = {}
        self._original_layers: dict[int, dict[str, Any]] | None = None
        self._pruning_method_name: str | None = None
        for name in self._parameter_names:
            if name not in self.PARAMETER_NAMES:
                raise MisconfigurationException(f"The provided `parameter_names` name: {name} isn't in {self.PARAMETER_NAMES}")

        if isinstance(pruning_fn, str):
            pruning_fn = self._pruning_fn_from_name(pruning_fn.lower(), pruning_dim, pruning_norm)
        elif _is_pruning_method(pruning_fn):
            if not use_global_unstructured:
                raise MisconfigurationException("PyTorch `BasePruningMethod` is currently only supported with `use_global_unstructured=True`.")
            self._pruning_method_name = pruning_fn.__name__
        else:
            raise MisconfigurationException(
                f"`pruning_fn` is expected to be a str in {list(PRUNING_FUNCTIONS)} or a PyTorch `BasePruningMethod`. Found: {pruning_fn}."
                " HINT: if passing a `BasePruningMethod`, pass the class, not an instance"
            )
        if use_global_unstructured and getattr(pruning_fn, "PRUNING_TYPE", None) != "unstructured":
            raise MisconfigurationException(
                'Only the "unstructured" PRUNING_TYPE is supported with `use_global_unstructured=True`. '
                f"Found method {pruning_fn} of type {getattr(pruning_fn, 'PRUNING_TYPE', None)}. "
            )
        self.pruning_fn = pruning_fn
        self._apply_pruning = apply_pruning
        self._make_pruning_permanent = make_pruning_permanent
        if isinstance(amount, bool) or not (isinstance(amount, (int, float)) or callable(amount)):
            raise MisconfigurationException("`amount` should be provided and be either an int, a float or Callable function.")
        self.amount = amount
        if verbose not in (0, 1, 2):
            raise MisconfigurationException("`verbose` must be any of (0, 1, 2)")
        self._verbose = verbose

    def _pruning_fn_from_name(self, name: str, dim: int | None, norm: int | None) -> Callable[..., Any]:
        if name not in PRUNING_FUNCTIONS:
            raise MisconfigurationException(f"The provided `pruning_fn` {name} isn't available in PyTorch's built-in functions: {list(PRUNING_FUNCTIONS)} ")
        kwargs: dict[str, Any] = {}
        if name.endswith("_structured"):
            if dim is None:
                raise MisconfigurationException("When requesting `structured` pruning, the `pruning_dim` should be provided.")
            if name == "ln_structured":
                if norm is None:
                    raise MisconfigurationException("When requesting `ln_structured` pruning, the `pruning_norm` should be provided.")
                kwargs["n"] = norm
            kwargs["dim"] = dim
        if self._use_global_unstructured:
            method = PRUNING_METHODS[name]
            self._pruning_method_name = method.__name__
            self._global_kwargs.update(kwargs)
            return method
        self._pruning_method_name = name
        return partial(PRUNING_FUNCTIONS[name], **kwargs)

    # ---- what subclasses may change -------------------------------------------------------------

    def filter_parameters_to_prune(self, parameters_to_prune: Sequence[tuple[nn.Module, str]] = ()) -> Sequence[tuple[nn.Module, str]]:
        """Override to choose among the parameters to prune (all by default)."""
        return parameters_to_prune

    @staticmethod
    def sanitize_parameters_to_prune(pl_module: nn.Module, parameters_to_prune: Sequence[tuple[nn.Module, str]] = (),
                                     parameter_names: Sequence[str] = ()) -> Sequence[tuple[nn.Module, str]]:
        """The given ``(module, name)`` pairs checked against the model, or every weight/bias of its layers."""
        names = parameter_names or ModelPruning.PARAMETER_NAMES
        layers = [m for m in pl_module.modules() if not isinstance(m, _CONTAINERS)]
        if not parameters_to_prune:
            return [(m, name) for name in names for m in layers if getattr(m, name, None) is not None]
        if not (isinstance(parameters_to_prune, (list, tuple))
                and all(isinstance(p, (list, tuple)) and len(p) == 2 and isinstance(p[0], nn.Module) and isinstance(p[1], str)
                        for p in parameters_to_prune)):
            raise MisconfigurationException(
                "The provided `parameters_to_prune` should either be list of tuple with 2 elements: "
                "(nn.Module, parameter_name_to_prune) or None"
            )
        missing_modules = [m for m, _ in parameters_to_prune if not any(m is layer for layer in layers)]
        missing_parameters = [n for m, n in parameters_to_prune if any(m is layer for layer in layers) and not hasattr(m, n)]
        if missing_modules or missing_parameters:
            raise MisconfigurationException(
                "Some provided `parameters_to_prune` don't exist in the model. "
                f"Found missing modules: {missing_modules} and missing parameters: {missing_parameters}"
            )
        return parameters_to_prune

    def make_pruning_permanent(self, module: nn.Module) -> None:
        """Remove the pruning masks and hooks: the pruned weights become plain parameters."""
        for sub in module.modules():
            for key, hook in list(sub._forward_pre_hooks.items()):
                if isinstance(hook, torch_prune.BasePruningMethod):
                    hook.remove(sub)
                    del sub._forward_pre_hooks[key]

    def apply_lottery_ticket_hypothesis(self) -> None:
        """Reset the unpruned weights to their values at setup (or freshly initialised ones with ``resample_parameters``)."""
        assert self._original_layers is not None
        for layer in self._original_layers.values():
            source = layer["data"]
            if self._resample_parameters and callable(getattr(source, "reset_parameters", None)):
                source = deepcopy(source)  # keep the setup-time copy for the next reset
                source.reset_parameters()
            for i, name in layer["names"]:
                target, _ = self._parameters_to_prune[i]
                src = getattr(source, name)
                if not isinstance(src, torch.Tensor):
                    continue
                # A pruned parameter lives in ``<name>_orig``; ``<name>`` is recomputed from it and the
                # mask before each forward. Reset both (copies: training must not change the kept values).
                orig, mask = getattr(target, f"{name}_orig", None), getattr(target, f"{name}_mask", None)
                if isinstance(orig, torch.Tensor):
                    orig.data = src.data.to(orig.device).clone()
                current = getattr(target, name)
                if isinstance(current, torch.Tensor):
                    value = src.data.to(current.device).clone()
                    current.data = value * mask if isinstance(mask, torch.Tensor) else value

    def apply_pruning(self, amount: int | float) -> None:
        """Prune ``parameters_to_prune`` by ``amount``."""
        before = [self._pruned_stats(m, n) for m, n in self._parameters_to_prune] if self._verbose else []
        if self._use_global_unstructured:
            self._global_kwargs["amount"] = amount
            accepted = set(inspect.signature(self.pruning_fn).parameters) - {"self"}
            kwargs = {k: v for k, v in self._global_kwargs.items() if k in accepted}
            torch_prune.global_unstructured(self._parameters_to_prune, pruning_method=self.pruning_fn, **kwargs)
        else:
            for module, name in self._parameters_to_prune:
                self.pruning_fn(module, name=name, amount=amount)
        if self._verbose:
            self._log_sparsity(before, [self._pruned_stats(m, n) for m, n in self._parameters_to_prune], amount)

    # ---- internals --------------------------------------------------------------------------------

    @staticmethod
    def _pruned_stats(module: nn.Module, name: str) -> tuple[int, int]:
        mask = getattr(module, f"{name}_mask", None)
        if mask is None:
            return 0, 1
        return int((mask == 0).sum().item()), mask.numel()

    def _log_sparsity(self, before: list[tuple[int, int]], after: list[tuple[int, int]], amount: int | float) -> None:
        if lit.rank_zero_only.rank != 0:  # type: ignore[attr-defined]
            return
        total = sum(p.numel() for layer, _ in self._parameters_to_prune for p in layer.parameters())
        was, now = sum(z for z, _ in before), sum(z for z, _ in after)
        log.info(f"Applied `{self._pruning_method_name}`. Pruned: {was}/{total} ({was / total:.2%}) -> {now}/{total} ({now / total:.2%})")
        if self._verbose == 2:
            for (module, name), (z0, n0), (z1, n1) in zip(self._parameters_to_prune, before, after):
                log.info(f"Applied `{self._pruning_method_name}` to `{module!r}.{name}` with amount={amount}. "
                         f"Pruned: {z0} ({z0 / n0:.2%}) -> {z1} ({z1 / n1:.2%})")

    def _run_pruning(self, epoch: int) -> None:
        prune = self._apply_pruning(epoch) if callable(self._apply_pruning) else self._apply_pruning
        amount = self.amount(epoch) if callable(self.amount) else self.amount
        if not prune or not amount:
            return
        self.apply_pruning(amount)
        lottery = self._use_lottery_ticket_hypothesis
        if lottery(epoch) if callable(lottery) else lottery:
            self.apply_lottery_ticket_hypothesis()

    def _permanent_state_dict(self, pl_module: nn.Module) -> dict[str, Any]:
        state = pl_module.state_dict()
        for name in {k[: -len("_mask")] for k in state if k.endswith("_mask")}:
            orig, mask = state.pop(name + "_orig"), state.pop(name + "_mask")
            state[name] = mask.to(dtype=orig.dtype) * orig
        return {k: v.cpu() if isinstance(v, torch.Tensor) else v for k, v in state.items()}

    # ---- hooks ------------------------------------------------------------------------------------

    def setup(self, trainer: lit.Trainer, pl_module: lit.LightningModule, stage: str) -> None:
        params = self.sanitize_parameters_to_prune(pl_module, self._parameters_to_prune, parameter_names=self._parameter_names)
        self._parameters_to_prune = self.filter_parameters_to_prune(params)
        if self._use_lottery_ticket_hypothesis:
            # One copy per module of its values now, with the indices of its pruned parameters.
            self._original_layers = {}
            for i, (module, name) in enumerate(self._parameters_to_prune):
                layer = self._original_layers.setdefault(id(module), {"data": deepcopy(module), "names": []})
                layer["names"].append((i, name))

    def on_train_epoch_end(self, trainer: lit.Trainer, pl_module: lit.LightningModule) -> None:
        if self._prune_on_train_epoch_end:
            self._run_pruning(pl_module.current_epoch)

    def on_validation_epoch_end(self, trainer: lit.Trainer, pl_module: lit.LightningModule) -> None:
        if not trainer.sanity_checking and not self._prune_on_train_epoch_end:
            self._run_pruning(pl_module.current_epoch)

    def on_train_end(self, trainer: lit.Trainer, pl_module: lit.LightningModule) -> None:
        if self._make_pruning_permanent:
            self.make_pruning_permanent(pl_module)

    def on_save_checkpoint(self, trainer: lit.Trainer, pl_module: lit.LightningModule, checkpoint: dict[str, Any]) -> None:
        if self._make_pruning_permanent:
            # The saved copy holds the pruned weights; the model keeps its masks and goes on training.
            checkpoint["state_dict"] = self._permanent_state_dict(pl_module)
