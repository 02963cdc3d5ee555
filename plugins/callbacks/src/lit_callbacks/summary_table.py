"""Lightning's model summary: a table of a module's layers, then parameter totals.

``ModelSummary(model, max_depth=1)`` lists the submodules down to ``max_depth`` (name, type,
parameter count, train/eval mode, FLOPs), and their input and output sizes when the model has
an ``example_input_array``; ``str()`` of it is the table Lightning prints when fit starts. The
``ModelSummary`` callback prints it, and so does the Trainer's default summary, which this
distribution provides (the ``default_model_summary`` role). Lightning's path
``lit_core.utilities.model_summary`` resolves to this module's names.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from lit_core.plugin_api import move_data_to_device

__all__ = ["LayerSummary", "ModelSummary", "get_formatted_model_size", "get_human_readable_count", "parse_batch_shape", "summarize"]

UNKNOWN_SIZE = "?"
LEFTOVER_PARAMS_NAME = "other params"
NOT_APPLICABLE = "n/a"
_UNITS = (" ", "K", "M", "B", "T")
#: Bits per parameter for the estimated size, by the trainer's precision (Lightning's table).
_PRECISION_BITS = {"64": 64, "32": 32, "16": 16, "bf16": 16, "16-true": 16, "bf16-true": 16, "32-true": 32, "64-true": 64,
                   "16-mixed": 32, "bf16-mixed": 32}


def get_human_readable_count(number: float) -> str:
    """``123`` -> ``'123  '``, ``1234`` -> ``'1.2 K'``, ``2e6`` -> ``'2.0 M'`` (K, M, B, T; no unit past T).

    >>> get_human_readable_count(1234), get_human_readable_count(4e14)
    ('1.2 K', '400 T')
    """
    if number < 0:
        raise ValueError(f"get_human_readable_count() takes a count, got {number}.")
    digits = int(math.floor(math.log10(number)) + 1) if number > 0 else 1
    groups = min(math.ceil(digits / 3), len(_UNITS))
    scaled = number * 10 ** (-3 * (groups - 1))
    if groups == 1 or scaled >= 100:
        return f"{int(scaled):,d} {_UNITS[groups - 1]}"
    return f"{scaled:,.1f} {_UNITS[groups - 1]}"


def get_formatted_model_size(total_model_size: float) -> str:
    """Megabytes with three decimals."""
    return f"{total_model_size:,.3f}"


def parse_batch_shape(batch: Any) -> str | list[Any]:
    """The shape of a tensor as a list, nested for lists/tuples of tensors; ``"?"`` for anything else."""
    if hasattr(batch, "shape"):
        return list(batch.shape)
    if isinstance(batch, (list, tuple)):
        return [parse_batch_shape(item) for item in batch]
    return UNKNOWN_SIZE


def _numel(p: torch.Tensor) -> int:
    # A lazy module's parameters have no size until the first forward pass.
    return 0 if isinstance(p, nn.parameter.UninitializedParameter) else p.numel()


class LayerSummary:
    """One row of the summary: a submodule's type, parameter count, mode and (after a forward pass) sizes.

    A forward hook records the input and output sizes of the first call, then removes itself.

    >>> layer = LayerSummary(nn.Linear(3, 2))
    >>> _ = layer._module(torch.zeros(5, 3))
    >>> layer.layer_type, layer.num_parameters, layer.in_size, layer.out_size
    ('Linear', 8, [5, 3], [5, 2])
    """

    def __init__(self, module: nn.Module) -> None:
        self._module = module
        self._in_size: str | list[Any] | None = None
        self._out_size: str | list[Any] | None = None
        self._hook_handle = None if isinstance(module, torch.jit.ScriptModule) else module.register_forward_hook(self._record, with_kwargs=True)

    def _record(self, _: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> None:
        inputs = (*args, *kwargs.values()) if kwargs else args
        self._in_size = parse_batch_shape(inputs[0] if len(inputs) == 1 else inputs)
        self._out_size = parse_batch_shape(out)
        self.detach_hook()

    def detach_hook(self) -> None:
        """Remove the forward hook if the forward pass did not."""
        if self._hook_handle is not None:
            self._hook_handle.remove()
            self._hook_handle = None

    @property
    def in_size(self) -> str | list[Any]:
        return self._in_size or UNKNOWN_SIZE

    @property
    def out_size(self) -> str | list[Any]:
        return self._out_size or UNKNOWN_SIZE

    @property
    def layer_type(self) -> str:
        return type(self._module).__name__

    @property
    def num_parameters(self) -> int:
        return sum(_numel(p) for p in self._module.parameters())

    @property
    def training(self) -> bool:
        return self._module.training


class ModelSummary:
    """The summary of ``model``'s layers down to ``max_depth`` (``-1``: all; ``0``: totals only).

    When the model has an ``example_input_array``, it is run through the model once (in eval
    mode, without gradients) to show each layer's in and out sizes and count FLOPs.

    >>> class Net(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.net = nn.Sequential(nn.Linear(4, 8), nn.ReLU())
    >>> print(ModelSummary(Net(), max_depth=-1))  # doctest: +NORMALIZE_WHITESPACE
      | Name  | Type       | Params | Mode  | FLOPs
    -----------------------------------------------------
    0 | net   | Sequential | 40     | train | 0
    1 | net.0 | Linear     | 40     | train | 0
    2 | net.1 | ReLU       | 0      | train | 0
    -----------------------------------------------------
    40        Trainable params
    0         Non-trainable params
    40        Total params
    0.000     Total estimated model params size (MB)
    3         Modules in train mode
    0         Modules in eval mode
    0         Total Flops
    """

    def __init__(self, model: nn.Module, max_depth: int = 1) -> None:
        if not isinstance(max_depth, int) or isinstance(max_depth, bool) or max_depth < -1:
            raise ValueError(f"`max_depth` can be -1, 0 or > 0, got {max_depth}.")
        self._model = model
        self._max_depth = max_depth
        self._flops: dict[str, int] = {}
        self._total_flops = 0
        trainer = model.__dict__.get("_trainer")
        precision = str(getattr(trainer, "precision", "32"))
        self._precision_megabytes = _PRECISION_BITS.get(precision, 32) / 8 * 1e-6
        self._layer_summary = self.summarize()

    @property
    def named_modules(self) -> list[tuple[str, nn.Module]]:
        if self._max_depth == 0:
            return []
        if self._max_depth == 1:
            return list(self._model.named_children())
        return list(self._model.named_modules())[1:]

    @property
    def layer_names(self) -> list[str]:
        return list(self._layer_summary)

    @property
    def layer_types(self) -> list[str]:
        return [layer.layer_type for layer in self._layer_summary.values()]

    @property
    def in_sizes(self) -> list[Any]:
        return [layer.in_size for layer in self._layer_summary.values()]

    @property
    def out_sizes(self) -> list[Any]:
        return [layer.out_size for layer in self._layer_summary.values()]

    @property
    def param_nums(self) -> list[int]:
        return [layer.num_parameters for layer in self._layer_summary.values()]

    @property
    def training_modes(self) -> list[bool]:
        return [layer.training for layer in self._layer_summary.values()]

    @property
    def total_training_modes(self) -> dict[str, int]:
        modes = [m.training for m in self._model.modules()][1:]
        return {"train": modes.count(True), "eval": modes.count(False)}

    @property
    def total_parameters(self) -> int:
        return sum(_numel(p) for p in self._model.parameters())

    @property
    def trainable_parameters(self) -> int:
        return sum(_numel(p) for p in self._model.parameters() if p.requires_grad)

    @property
    def total_layer_params(self) -> int:
        return sum(self.param_nums)

    @property
    def model_size(self) -> float:
        """Estimated size of the parameters in MB, at the trainer's precision (32 bits without one)."""
        return self.total_parameters * self._precision_megabytes

    @property
    def total_flops(self) -> int:
        return self._total_flops

    @property
    def flop_counts(self) -> dict[str, int]:
        """FLOPs of each listed layer in the example forward pass (0 without ``example_input_array``)."""
        return {name: self._flops.get(name, 0) for name in self.layer_names}

    def summarize(self) -> dict[str, LayerSummary]:
        """Build the rows (running ``example_input_array`` through the model when it has one)."""
        summary = OrderedDict((name, LayerSummary(module)) for name, module in self.named_modules)
        if getattr(self._model, "example_input_array", None) is not None:
            self._forward_example_input()
        for layer in summary.values():
            layer.detach_hook()
        if self._max_depth >= 1:
            for name in [n for n in summary if n.count(".") >= self._max_depth]:
                del summary[name]
        return summary

    def _forward_example_input(self) -> None:
        from torch.utils.flop_counter import FlopCounterMode


        model = self._model
        first = next(model.parameters(), None)
        example = model.example_input_array
        if first is not None:
            example = move_data_to_device(example, first.device)
        modes = {m: m.training for m in model.modules()}
        model.eval()
        counter = FlopCounterMode(display=False, depth=None)
        try:
            with torch.no_grad(), counter:
                if isinstance(example, (list, tuple)):
                    model(*example)
                elif isinstance(example, dict):
                    model(**example)
                else:
                    model(example)
        finally:
            for m, training in modes.items():
                m.training = training
        counts = counter.get_flop_counts()
        root = type(model).__name__
        self._total_flops = counter.get_total_flops()
        self._flops = {name[len(root) + 1:]: sum(c.values()) for name, c in counts.items() if name.startswith(root + ".")}

    def _get_summary_data(self) -> list[tuple[str, list[str]]]:
        """The table's columns: ``(header, cells)``."""
        columns = [
            (" ", [str(i) for i in range(len(self._layer_summary))]),
            ("Name", self.layer_names),
            ("Type", self.layer_types),
            ("Params", [get_human_readable_count(n) for n in self.param_nums]),
            ("Mode", ["train" if mode else "eval" for mode in self.training_modes]),
            ("FLOPs", [get_human_readable_count(n) for n in self.flop_counts.values()]),
        ]
        if getattr(self._model, "example_input_array", None) is not None:
            columns.append(("In sizes", [str(s) for s in self.in_sizes]))
            columns.append(("Out sizes", [str(s) for s in self.out_sizes]))
        leftover = self.total_parameters - self.total_layer_params
        if leftover > 0 and self._max_depth != 0:
            for header, cells in columns:
                cells.append({" ": " ", "Name": LEFTOVER_PARAMS_NAME, "Params": get_human_readable_count(leftover)}.get(header, NOT_APPLICABLE))
        return columns

    def __str__(self) -> str:
        return format_summary_table(self.total_parameters, self.trainable_parameters, self.model_size,
                                    self.total_training_modes, self.total_flops, *self._get_summary_data())

    def __repr__(self) -> str:
        return str(self)


def format_summary_table(total_parameters: int, trainable_parameters: int, model_size: float,
                         total_training_modes: dict[str, int], total_flops: int, *columns: tuple[str, list[str]]) -> str:
    """The table of ``columns`` (``(header, cells)``), then the totals, in Lightning's layout."""
    n_rows = len(columns[0][1]) if columns else 0
    widths = [max([len(header), *(len(str(c)) for c in cells)]) for header, cells in columns]
    total_width = sum(widths) + 3 * (1 + len(columns))
    rule = "-" * total_width
    lines = [" | ".join(f"{h:<{w}}" for (h, _), w in zip(columns, widths)), rule]
    lines += [" | ".join(f"{cells[i]!s:<{w}}" for (_, cells), w in zip(columns, widths)) for i in range(n_rows)]
    lines.append(rule)
    totals = (
        (get_human_readable_count(trainable_parameters), "Trainable params"),
        (get_human_readable_count(total_parameters - trainable_parameters), "Non-trainable params"),
        (get_human_readable_count(total_parameters), "Total params"),
        (get_formatted_model_size(model_size), "Total estimated model params size (MB)"),
        (total_training_modes["train"], "Modules in train mode"),
        (total_training_modes["eval"], "Modules in eval mode"),
        (get_human_readable_count(total_flops), "Total Flops"),
    )
    lines += [f"{value!s:<10}{label}" for value, label in totals]
    return "\n".join(lines)


def summarize(lightning_module: nn.Module, max_depth: int = 1) -> ModelSummary:
    """``ModelSummary(lightning_module, max_depth)``."""
    return ModelSummary(lightning_module, max_depth=max_depth)
