"""``grad_norm``: the norms of a module's gradients, named for logging (Lightning's ``utilities.grads``)."""

from __future__ import annotations

import torch
from torch import nn


def grad_norm(module: nn.Module, norm_type: float | int | str, group_separator: str = "/") -> dict[str, torch.Tensor]:
    """The ``norm_type``-norm of each parameter's gradient, and of all of them together.

    Keys are ``grad_{norm_type}_norm{group_separator}{parameter name}`` for each parameter that has
    a gradient, and ``grad_{norm_type}_norm_total``, ready for ``self.log_dict(...)`` in
    ``on_before_optimizer_step``. ``norm_type`` is a positive number or ``"inf"``. Empty when no
    parameter has a gradient.
    """
    norm = float(norm_type)
    if norm <= 0:
        raise ValueError(f"grad_norm(norm_type={norm_type!r}): the norm type must be a positive number or 'inf'.")
    norms = {
        f"grad_{norm}_norm{group_separator}{name}": p.grad.data.norm(norm)
        for name, p in module.named_parameters()
        if p.grad is not None
    }
    if norms:
        norms[f"grad_{norm}_norm_total"] = torch.tensor(list(norms.values())).norm(norm)
    return norms


__all__ = ["grad_norm"]
