"""A small LSTM language model over :class:`~lit_demos.WikiText2`, with truncated backpropagation.

``SequenceSampler`` cuts the corpus into ``batch_size`` parallel streams, so batch ``i + 1``
continues batch ``i`` row by row; ``LightningLSTM`` carries the hidden state from one batch to the
next (detached) and starts afresh each epoch.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sized
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Sampler

import lit_core as lit

from .transformer import WikiText2

Hidden = tuple[Tensor, Tensor]


class SimpleLSTM(nn.Module):
    """Embedding, a stacked LSTM and a decoder to log-probabilities over the vocabulary."""

    def __init__(self, vocab_size: int = 33278, ninp: int = 512, nhid: int = 512, nlayers: int = 4, dropout: float = 0.2) -> None:
        super().__init__()
        self.vocab_size, self.nlayers, self.nhid = vocab_size, nlayers, nhid
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(vocab_size, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout if nlayers > 1 else 0.0, batch_first=True)
        self.decoder = nn.Linear(nhid, vocab_size)
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)

    def forward(self, input: Tensor, hidden: Hidden) -> tuple[Tensor, Hidden]:
        output, hidden = self.rnn(self.drop(self.encoder(input)), hidden)
        logits = self.decoder(self.drop(output)).view(-1, self.vocab_size)
        return F.log_softmax(logits, dim=1), hidden

    def init_hidden(self, batch_size: int) -> Hidden:
        """Zero hidden and cell states for ``batch_size`` streams."""
        weight = next(self.parameters())
        return weight.new_zeros(self.nlayers, batch_size, self.nhid), weight.new_zeros(self.nlayers, batch_size, self.nhid)


class SequenceSampler(Sampler[list[int]]):
    """Batches of ``batch_size`` indices, one per stream: batch ``i`` is ``[i, i + chunk, i + 2 chunk, ...]``."""

    def __init__(self, dataset: Sized, batch_size: int) -> None:
        super().__init__()
        self.dataset = dataset
        self.batch_size = batch_size
        self.chunk_size = len(dataset) // batch_size

    def __iter__(self) -> Iterator[list[int]]:
        usable = self.chunk_size * self.batch_size
        for i in range(self.chunk_size):
            yield list(range(i, usable, self.chunk_size))

    def __len__(self) -> int:
        return self.chunk_size


class LightningLSTM(lit.LightningModule):
    """:class:`SimpleLSTM` trained on :class:`WikiText2` (in ``data_dir``) with truncated backpropagation through time."""

    def __init__(self, vocab_size: int = 33278, data_dir: str | os.PathLike[str] = Path("./data"), download: bool = True,
                 batch_size: int = 20, **model_kwargs: int | float) -> None:
        super().__init__()
        self.model = SimpleLSTM(vocab_size=vocab_size, **model_kwargs)  # type: ignore[arg-type]
        self.hidden: Hidden | None = None
        self.data_dir, self.download, self.batch_size = data_dir, download, batch_size

    def on_train_epoch_end(self) -> None:
        self.hidden = None

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        input, target = batch
        if self.hidden is None:
            self.hidden = self.model.init_hidden(input.size(0))
        # Carry the state on, but not the graph: gradients stop at the batch boundary.
        self.hidden = (self.hidden[0].detach(), self.hidden[1].detach())
        output, self.hidden = self.model(input, self.hidden)
        loss = F.nll_loss(output, target.view(-1))
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def prepare_data(self) -> None:
        WikiText2(self.data_dir, download=self.download)

    def train_dataloader(self) -> DataLoader:
        dataset = WikiText2(self.data_dir, download=self.download)
        return DataLoader(dataset, batch_sampler=SequenceSampler(dataset, batch_size=self.batch_size))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=20.0)
