"""Dataloader handling: finding the loaders, counting and limiting their batches."""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping, Sequence
from typing import Any

from torch.utils.data import DataLoader, IterableDataset, Sampler, SequentialSampler

from .exceptions import MisconfigurationException
from .utilities.combined_loader import CombinedBatches, CombinedLoader, _flatten

#: stage -> the method on the module / datamodule that returns its dataloader(s).
LOADER_METHODS = {kind: f"{kind}_dataloader" for kind in ("train", "val", "test", "predict")}


def has_len(loader: Any) -> bool:
    """Whether ``len(loader)`` works (an ``IterableDataset`` loader may not have one)."""
    try:
        len(loader)
    except (TypeError, NotImplementedError):
        return False
    return True


def as_loader_list(loaders: Any, stage: str) -> list[Any]:
    """One loader or a collection (list / tuple / dict, nested) of loaders -> a list of loaders.

    Training reads a collection together, as Lightning does: it becomes one
    ``CombinedLoader(mode="max_size_cycle")`` (a ``CombinedLoader`` given is kept, in any mode but
    ``"sequential"``). The other stages read their loaders one after the other: a collection, or
    a ``CombinedLoader(mode="sequential")``, gives its loaders in order.
    """
    if loaders is None:
        return []
    train = stage == "train"
    if isinstance(loaders, CombinedLoader):
        if train and loaders.mode == "sequential":
            raise ValueError(
                'trainer.fit() does not support CombinedLoader(mode="sequential") for training: use "max_size_cycle", '
                '"min_size" or "max_size".'
            )
        if not train and loaders.mode != "sequential":
            fn = {"val": "validate", "test": "test", "predict": "predict"}.get(stage, stage)
            raise ValueError(f'trainer.{fn}() only supports the CombinedLoader(mode="sequential") mode for {stage} data.')
        flat = loaders.flattened
    elif isinstance(loaders, (Mapping, Sequence)) and not isinstance(loaders, (str, bytes)):
        flat = _flatten(loaders)[0]
        if train:
            loaders = CombinedLoader(loaders, mode="max_size_cycle")
    else:
        flat = [loaders]
    for loader in flat:
        if not hasattr(loader, "__iter__"):
            raise MisconfigurationException(
                f"The {stage} dataloader {loader!r} is not iterable: give a torch.utils.data.DataLoader "
                "(or any iterable of batches)."
            )
    return [loaders] if train else flat


def process_dataloader(trainer: Any, loader: Any, stage: str) -> Any:
    """``lit_process_dataloader`` for ``loader``; a ``CombinedLoader``'s loaders go through the hook
    one by one (a strategy shards each; none has to know the combination), and the fit loop then
    iterates the combined batches alone (``CombinedBatches``)."""
    hook = trainer.plugin_manager.hook
    if not isinstance(loader, CombinedLoader):
        return hook.lit_process_dataloader(trainer=trainer, dataloader=loader, stage=stage)
    processed = [hook.lit_process_dataloader(trainer=trainer, dataloader=dl, stage=stage) for dl in loader.flattened]
    return CombinedBatches(loader._with_flattened(processed))


def batches_per_loader(loaders: Sequence[Any], limit: int | float, most: float = math.inf) -> list[int | float]:
    """``num_batches`` of each of ``loaders`` (without its checks), at most ``most`` each: ints, or ``inf``."""
    counts = [min(num_batches(loader, limit), most) for loader in loaders]
    return [n if math.isinf(n) else int(n) for n in counts]


def num_batches(loader: Any, limit: int | float, stage: str = "", flag: str | None = None) -> float:
    """How many batches of ``loader`` to run under ``limit`` (``inf`` for an unsized loader without an int limit).

    ``limit`` is a number of batches (int) or a fraction of the loader (float in [0, 1]). Given
    ``flag`` (the ``limit_*_batches`` name), a limit that cannot apply to the ``stage`` loader is an error.
    """
    length = len(loader) if has_len(loader) else math.inf
    if flag is not None:
        if isinstance(limit, bool) or limit < 0 or (isinstance(limit, float) and limit > 1.0):
            raise MisconfigurationException(
                f"{flag}={limit!r}: use an int (number of batches) or a float between 0.0 and 1.0 (a fraction)."
            )
        if math.isinf(length) and isinstance(limit, float) and 0.0 < limit < 1.0:
            raise MisconfigurationException(
                f"{flag}={limit} is a fraction, but the {stage} dataloader has no length (an IterableDataset): "
                "give an int number of batches instead."
            )
        if length == 0:
            raise MisconfigurationException(
                f"The {stage} dataloader is empty (len 0): check that its dataset has samples and that "
                "batch_size / drop_last leave at least one batch."
            )
        if isinstance(limit, float) and 0 < length * limit < 1:
            raise MisconfigurationException(
                f"{flag}={limit} of {length} batches is less than one batch: raise it to at least {1 / length:.3g} "
                "or give an int number of batches."
            )
    if not isinstance(limit, float):
        return float(min(length, limit))
    if math.isinf(length):
        return length if limit else 0.0
    return float(int(length * limit))


def _copied_kwargs(loader: DataLoader) -> dict[str, Any]:
    """The arguments to rebuild ``loader``, except its dataset and how it samples and batches."""
    params = set(inspect.signature(DataLoader.__init__).parameters) - {"self", "dataset", "sampler", "shuffle", "batch_sampler", "batch_size", "drop_last"}
    kwargs = {name: getattr(loader, name) for name in params if hasattr(loader, name)}
    if loader.num_workers == 0:
        kwargs.pop("prefetch_factor", None)
    return kwargs


class BatchIndexRecorder(Sampler):
    """Wraps a batch sampler and keeps, per batch drawn in the current pass, its sample indices."""

    def __init__(self, batch_sampler: Any) -> None:
        self.batch_sampler = batch_sampler
        #: ``seen[i]``: the indices of the ``i``-th batch of the current pass.
        self.seen: list[list[int]] = []

    def __iter__(self) -> Any:
        self.seen = []
        for indices in self.batch_sampler:
            self.seen.append(list(indices))
            yield indices

    def __len__(self) -> int:
        return len(self.batch_sampler)


def recording_batch_indices(loader: Any) -> tuple[Any, BatchIndexRecorder | None]:
    """A copy of ``loader`` whose batch sampler records each batch's sample indices, and the recorder.

    ``(loader, None)`` when the loader has no indices to record (not a ``DataLoader``, or an
    iterable-style dataset). Used by ``predict`` when a prediction writer asks for ``batch_indices``.
    """
    if not isinstance(loader, DataLoader) or loader.batch_sampler is None or isinstance(loader.dataset, IterableDataset):
        return loader, None
    recorder = BatchIndexRecorder(loader.batch_sampler)
    return DataLoader(loader.dataset, batch_sampler=recorder, **_copied_kwargs(loader)), recorder


def with_sampler(loader: DataLoader, sampler: Sampler) -> DataLoader:
    """A copy of ``loader`` that draws from ``sampler`` (everything else kept).

    Used to turn shuffling off for ``overfit_batches``, and by strategies to insert a
    ``DistributedSampler``.
    """
    if not isinstance(loader, DataLoader):
        raise MisconfigurationException(f"Cannot replace the sampler of {type(loader).__name__}: it is not a DataLoader.")
    if loader.batch_sampler is not None and loader.batch_size is None:
        raise MisconfigurationException("Cannot replace the sampler of a DataLoader built with a custom batch_sampler.")
    kwargs = _copied_kwargs(loader)
    return DataLoader(loader.dataset, batch_size=loader.batch_size, sampler=sampler, drop_last=loader.drop_last, **kwargs)


def with_batch_sampler(loader: DataLoader, batch_sampler: Any) -> DataLoader:
    """A copy of ``loader`` that draws its batches from ``batch_sampler`` (everything else kept).

    Used by strategies to share a custom ``batch_sampler`` out between processes.
    """
    return DataLoader(loader.dataset, batch_sampler=batch_sampler, **_copied_kwargs(loader))


def without_shuffle(loader: Any) -> Any:
    """``loader`` reading its dataset in order (for ``overfit_batches``); each of a ``CombinedLoader``'s."""
    if isinstance(loader, CombinedLoader):
        return loader._with_flattened([without_shuffle(dl) for dl in loader.flattened])
    if isinstance(loader, DataLoader) and not isinstance(loader.sampler, SequentialSampler) and has_len(loader.dataset):
        return with_sampler(loader, SequentialSampler(loader.dataset))
    return loader
