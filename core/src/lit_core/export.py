"""``LightningModule.to_torchscript``: the module compiled or traced for deployment without Python."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import torch

from .apply import move_data_to_device

if TYPE_CHECKING:
    from .module import LightningModule


@contextlib.contextmanager
def _scripting(module: LightningModule) -> Iterator[None]:
    """While compiling, ``module.trainer`` is ``None`` instead of an error (the compiler reads every attribute)."""
    modules = [m for m in module.modules() if hasattr(type(m), "__jit_unused_properties__")]
    for m in modules:
        m.__dict__["_jit_is_scripting"] = True
    try:
        yield
    finally:
        for m in modules:
            m.__dict__.pop("_jit_is_scripting", None)


def to_torchscript(module: LightningModule, file_path: str | os.PathLike | None = None, method: str = "script",
                   example_inputs: Any = None, **kwargs: Any) -> torch.jit.ScriptModule:
    """``torch.jit.script`` (or ``trace``) of ``module`` in eval mode, saved to ``file_path`` when given.

    Tracing runs ``example_inputs``, or the module's ``example_input_array``, on the module's device.
    The module's training mode is restored afterwards.
    """
    if method not in ("script", "trace"):
        raise ValueError(f"The 'method' parameter only supports 'script' or 'trace', but value given was: {method}")
    mode = module.training
    with _scripting(module):
        if method == "script":
            compiled = torch.jit.script(module.eval(), **kwargs)
        else:
            if example_inputs is None:
                if module.example_input_array is None:
                    raise ValueError(
                        "Choosing method=`trace` requires either `example_inputs` or `model.example_input_array` to be "
                        "defined."
                    )
                example_inputs = module.example_input_array
            example_inputs = move_data_to_device(example_inputs, module.device)
            compiled = torch.jit.trace(func=module.eval(), example_inputs=example_inputs, **kwargs)
    module.train(mode)
    if file_path is not None:
        torch.jit.save(compiled, os.fspath(file_path))
    return compiled
