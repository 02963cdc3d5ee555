"""``CombinedLoader``: several iterables read together, with Lightning 2.x's four modes.

``trainer.fit(model, train_dataloaders={"a": dl1, "b": dl2})`` (or a list, or a
``train_dataloader()`` returning one) trains on a ``CombinedLoader(mode="max_size_cycle")``:
``training_step`` gets a batch shaped like the collection (``{"a": batch_a, "b": batch_b}``).
Validation, test and predict read several loaders one after the other, which is
``mode="sequential"``; those are the only modes each stage accepts, as in Lightning.

The loops never give a ``CombinedLoader`` itself to ``lit_process_dataloader``: each of its
loaders goes through the hook (a strategy shards each one) and the results are combined again
(see ``lit_core.data.process_dataloader``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from torch.utils.data.dataloader import _MultiProcessingDataLoaderIter

__all__ = ["CombinedLoader"]

#: mode -> how the lengths of the iterables give the number of batches.
_LENGTH_OF: dict[str, Callable[[list[int]], int]] = {"min_size": min, "max_size_cycle": max, "max_size": max, "sequential": sum}


# -- collections of iterables -----------------------------------------------------------------
# A spec is ``None`` for a leaf, else ``(kind, keys, child specs)``: just enough to rebuild the
# user's list / tuple / dict around new leaves.


def _flatten(tree: Any) -> tuple[list[Any], Any]:
    if isinstance(tree, Mapping):
        leaves: list[Any] = []
        children = []
        for value in tree.values():
            sub, spec = _flatten(value)
            leaves.extend(sub)
            children.append((len(sub), spec))
        return leaves, (type(tree), list(tree.keys()), children)
    if isinstance(tree, (list, tuple)):
        leaves = []
        children = []
        for value in tree:
            sub, spec = _flatten(value)
            leaves.extend(sub)
            children.append((len(sub), spec))
        return leaves, (type(tree), None, children)
    return [tree], None


def _unflatten(leaves: list[Any], spec: Any) -> Any:
    if spec is None:
        return leaves[0]
    kind, keys, children = spec
    values, start = [], 0
    for count, child in children:
        values.append(_unflatten(leaves[start:start + count], child))
        start += count
    if keys is not None:
        try:
            return kind(zip(keys, values))
        except Exception:  # a Mapping type that cannot be built from pairs
            return dict(zip(keys, values))
    if hasattr(kind, "_fields"):  # a namedtuple
        return kind(*values)
    try:
        return kind(values)
    except Exception:
        return list(values)


def _length(iterable: Any) -> int | None:
    try:
        return len(iterable)
    except (TypeError, NotImplementedError):
        return None


# -- the modes --------------------------------------------------------------------------------


class _ModeIterator(Iterator[tuple[Any, int, int]]):
    """One pass over the flattened iterables; yields ``(list of batches, batch_idx, dataloader_idx)``."""

    def __init__(self, iterables: list[Any], limits: list[int | float] | None) -> None:
        self.iterables = iterables
        self.limits = limits
        self.iterators: list[Iterator[Any]] = [iter(it) for it in iterables]
        self.idx = 0

    def _count(self, out: Any, dataloader_idx: int = 0) -> tuple[Any, int, int]:
        index = self.idx
        self.idx += 1
        return out, index, dataloader_idx


class _MinSize(_ModeIterator):
    def __next__(self) -> tuple[Any, int, int]:
        return self._count([next(it) for it in self.iterators])


class _MaxSizeCycle(_ModeIterator):
    def __init__(self, iterables: list[Any], limits: list[int | float] | None) -> None:
        super().__init__(iterables, limits)
        self.consumed = [False] * len(iterables)

    def __next__(self) -> tuple[Any, int, int]:
        out = []
        for i, iterator in enumerate(self.iterators):
            try:
                out.append(next(iterator))
            except StopIteration:
                self.consumed[i] = True
                if all(self.consumed):
                    raise
                # Start this shorter iterable over; the longest one decides when the pass ends.
                self.iterators[i] = iter(self.iterables[i])
                out.append(next(self.iterators[i]))
        return self._count(out)


class _MaxSize(_ModeIterator):
    def __next__(self) -> tuple[Any, int, int]:
        out = []
        exhausted = 0
        for iterator in self.iterators:
            try:
                out.append(next(iterator))
            except StopIteration:
                out.append(None)  # this iterable is done: None in its place until the longest is done
                exhausted += 1
        if exhausted == len(out):
            raise StopIteration
        return self._count(out)


class _Sequential(_ModeIterator):
    def __init__(self, iterables: list[Any], limits: list[int | float] | None) -> None:
        # One iterator at a time: only the current loader's workers run.
        self.iterables = iterables
        self.limits = limits
        self.current = 0
        self.idx = 0
        self.iterators = [iter(iterables[0])] if iterables else []

    def _next_iterable(self) -> None:
        self.current += 1
        self.idx = 0
        self.iterators = [iter(self.iterables[self.current])] if self.current < len(self.iterables) else []

    def __next__(self) -> tuple[Any, int, int]:
        while self.current < len(self.iterables):
            if self.limits is not None and self.idx >= self.limits[self.current]:
                self._next_iterable()
                continue
            try:
                batch = next(self.iterators[0])
            except StopIteration:
                self._next_iterable()
                continue
            return self._count(batch, self.current)
        raise StopIteration


_MODES: dict[str, type[_ModeIterator]] = {
    "min_size": _MinSize, "max_size_cycle": _MaxSizeCycle, "max_size": _MaxSize, "sequential": _Sequential,
}


class CombinedLoader(Iterable):
    """Reads a collection of iterables (a list, tuple or dict of them, nested or not) together.

    Iterating yields ``(batch, batch_idx, dataloader_idx)``, as in Lightning 2.x:

    * ``"min_size"`` (default): stops when the shortest iterable is done;
    * ``"max_size_cycle"``: stops when the longest is done, starting the shorter ones over;
    * ``"max_size"``: stops when the longest is done, ``None`` in place of the finished ones;
    * ``"sequential"``: each iterable in turn; ``batch`` is one iterable's batch and
      ``dataloader_idx`` says which.

    In the first three modes ``batch`` has the shape of ``iterables`` (a dict of batches for a
    dict of loaders) and ``dataloader_idx`` is 0.

    >>> from torch.utils.data import DataLoader
    >>> loaders = {"a": DataLoader(range(4), batch_size=2), "b": DataLoader(range(6), batch_size=2)}
    >>> combined = CombinedLoader(loaders, mode="max_size_cycle")
    >>> len(combined)
    3
    >>> [(batch["a"].tolist(), batch["b"].tolist(), i) for batch, i, _ in combined]
    [([0, 1], [0, 1], 0), ([2, 3], [2, 3], 1), ([0, 1], [4, 5], 2)]
    >>> [(batch.tolist(), i, dl) for batch, i, dl in CombinedLoader(loaders, mode="sequential")][2:]
    [([0, 1], 0, 1), ([2, 3], 1, 1), ([4, 5], 2, 1)]

    :param iterables: one iterable or a collection of them.
    :param mode: ``"min_size"``, ``"max_size_cycle"``, ``"max_size"`` or ``"sequential"``.
    :raises ValueError: for another mode.
    """

    def __init__(self, iterables: Any, mode: str = "min_size") -> None:
        if mode not in _MODES:
            raise ValueError(f"Unsupported mode {mode!r}: choose one of {list(_MODES)}.")
        self._iterables = iterables
        self._flattened, self._spec = _flatten(iterables)
        self._mode = mode
        self._limits: list[int | float] | None = None
        self._iterator: _ModeIterator | None = None

    @property
    def mode(self) -> str:
        """How the iterables are combined."""
        return self._mode

    @property
    def iterables(self) -> Any:
        """The collection of iterables as given (with any replaced through ``flattened``)."""
        return self._iterables

    @property
    def flattened(self) -> list[Any]:
        """The iterables in one flat list, in the collection's order."""
        return self._flattened

    @flattened.setter
    def flattened(self, flattened: list[Any]) -> None:
        if len(flattened) != len(self._flattened):
            raise ValueError(f"{len(flattened)} iterables given to replace {len(self._flattened)}: give as many.")
        self._flattened = list(flattened)
        self._iterables = _unflatten(self._flattened, self._spec)

    @property
    def limits(self) -> list[int | float] | None:
        """At most this many batches of each iterable (``None``: no limit)."""
        return self._limits

    @limits.setter
    def limits(self, limits: int | float | list[int | float] | None) -> None:
        if isinstance(limits, (int, float)):
            limits = [limits] * len(self._flattened)
        elif limits is not None and len(limits) != len(self._flattened):
            raise ValueError(f"{len(limits)} limits given for {len(self._flattened)} iterables: give one per iterable.")
        self._limits = limits

    @property
    def sampler(self) -> Any:
        """Each iterable's ``sampler`` (``None`` where it has none), in the collection's shape."""
        return _unflatten([getattr(it, "sampler", None) for it in self._flattened], self._spec)

    @property
    def batch_sampler(self) -> Any:
        """Each iterable's ``batch_sampler`` (``None`` where it has none), in the collection's shape."""
        return _unflatten([getattr(it, "batch_sampler", None) for it in self._flattened], self._spec)

    def __iter__(self) -> CombinedLoader:
        self._iterator = _MODES[self._mode](self._flattened, self._limits)
        return self

    def __next__(self) -> tuple[Any, int, int]:
        if self._iterator is None:
            raise TypeError("Call iter(combined_loader) before next().")
        out, batch_idx, dataloader_idx = next(self._iterator)
        if self._mode == "sequential":
            return out, batch_idx, dataloader_idx
        return _unflatten(out, self._spec), batch_idx, dataloader_idx

    def __len__(self) -> int:
        """Batches in one pass: the mode applied to the iterables' lengths (within ``limits``).

        :raises TypeError: when an iterable has no length (an ``IterableDataset`` loader).
        """
        lengths = []
        for i, iterable in enumerate(self._flattened):
            n = _length(iterable)
            if n is None:
                raise TypeError(f"{type(iterable).__name__} (iterable {i} of the CombinedLoader) has no length.")
            if self._limits is not None:
                n = min(n, self._limits[i])
            lengths.append(int(n))
        return _LENGTH_OF[self._mode](lengths) if lengths else 0

    def reset(self) -> None:
        """Drop the current pass and stop any loader workers it started."""
        self._iterator = None
        for iterable in self._flattened:
            iterator = getattr(iterable, "_iterator", None)
            if isinstance(iterator, _MultiProcessingDataLoaderIter):
                iterator._shutdown_workers()
            if iterator is not None:
                iterable._iterator = None

    def _dataset_length(self) -> int:
        """The mode applied to the lengths of the iterables' datasets (those that have one)."""
        lengths = [n for it in self._flattened if (n := _length(getattr(it, "dataset", None))) is not None]
        if not lengths:
            raise NotImplementedError("None of the CombinedLoader's datasets has a length (all iterable-style).")
        return _LENGTH_OF[self._mode](lengths)

    def _with_flattened(self, flattened: list[Any]) -> CombinedLoader:
        """A copy with the same collection shape, mode and limits over ``flattened``."""
        copy = CombinedLoader.__new__(CombinedLoader)
        copy._mode, copy._spec, copy._limits, copy._iterator = self._mode, self._spec, self._limits, None
        copy._flattened = list(flattened)
        copy._iterables = _unflatten(copy._flattened, self._spec)
        return copy

    def __repr__(self) -> str:
        return f"CombinedLoader({self._iterables!r}, mode={self._mode!r})"


class CombinedBatches:
    """What the fit loop iterates for a ``CombinedLoader``: the combined batches alone (the
    loop counts ``batch_idx`` itself), with the combined length, and a ``sampler`` whose
    ``set_epoch`` reaches every inner sampler (a ``DistributedSampler`` reshuffles each epoch)."""

    def __init__(self, combined: CombinedLoader) -> None:
        self.combined = combined
        self.sampler = _EpochFanOut([getattr(it, "sampler", None) for it in combined.flattened])

    def __iter__(self) -> Iterator[Any]:
        return (batch for batch, _, _ in self.combined)

    def __len__(self) -> int:
        return len(self.combined)


class _EpochFanOut:
    def __init__(self, samplers: list[Any]) -> None:
        self.samplers = [s for s in samplers if hasattr(s, "set_epoch")]

    def set_epoch(self, epoch: int) -> None:
        for sampler in self.samplers:
            sampler.set_epoch(epoch)
