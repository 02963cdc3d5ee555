"""A small transformer language model and a WikiText-2-shaped dataset to train it on.

``WikiText2`` reads ``wikitext-2.txt`` from ``data_dir``. When the file is missing it is
downloaded from :data:`WIKITEXT2_URL` (``download=True``), or, with ``download=False``, written
offline as a synthetic corpus of the same shape: `` = Heading = `` lines, paragraphs of
sentences, ``<unk>`` and `` @-@ `` tokens, a Zipf-like vocabulary and word-to-word structure a
language model can learn. Tests and machines without a network use the synthetic corpus.
"""

from __future__ import annotations

import logging
import math
import os
import random
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset

import lit_core as lit

from .download import fetch

log = logging.getLogger(__name__)

#: The training split of WikiText-2 as PyTorch's word-language-model example ships it.
WIKITEXT2_URL = "https://raw.githubusercontent.com/pytorch/examples/main/word_language_model/data/wikitext-2/train.txt"


class PositionalEncoding(nn.Module):
    """Adds the sinusoidal position code of "Attention Is All You Need" to ``(batch, time, dim)`` inputs."""

    def __init__(self, dim: int, dropout: float = 0.1, max_len: int = 5000) -> None:
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(max_len, dtype=torch.float).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, dim, 2, dtype=torch.float) * (-math.log(10000.0) / dim))
        pe = torch.zeros(max_len, dim)
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term[: dim // 2])
        # Not saved in checkpoints: it is a function of the shape alone.
        self.register_buffer("pe", pe, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(x + self.pe[: x.size(1)])


class Transformer(nn.Module):
    """An encoder-decoder ``nn.Transformer`` over word ids: ``forward(inputs, target)`` returns log-probabilities.

    ``target`` is ``inputs`` shifted by one word; the output has shape ``(batch * time, vocab_size)``.
    """

    def __init__(self, vocab_size: int = 33278, ninp: int = 200, nhead: int = 2, nhid: int = 200,
                 nlayers: int = 2, dropout: float = 0.2) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.ninp = ninp
        self.embedding = nn.Embedding(vocab_size, ninp)
        self.pos_encoder = PositionalEncoding(ninp, dropout)
        self.transformer = nn.Transformer(d_model=ninp, nhead=nhead, num_encoder_layers=nlayers,
                                          num_decoder_layers=nlayers, dim_feedforward=nhid, dropout=dropout,
                                          batch_first=True)
        self.decoder = nn.Linear(ninp, vocab_size)

    def forward(self, inputs: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
        if mask is None:
            mask = nn.Transformer.generate_square_subsequent_mask(inputs.size(1), device=inputs.device)
        scale = math.sqrt(self.ninp)
        src = self.pos_encoder(self.embedding(inputs) * scale)
        tgt = self.pos_encoder(self.embedding(target) * scale)
        output = self.decoder(self.transformer(src, tgt, tgt_mask=mask))
        return F.log_softmax(output, dim=-1).view(-1, self.vocab_size)


class Dictionary:
    """Words to ids and back, in order of first appearance."""

    def __init__(self) -> None:
        self.word2idx: dict[str, int] = {}
        self.idx2word: list[str] = []

    def add_word(self, word: str) -> int:
        if word not in self.word2idx:
            self.word2idx[word] = len(self.idx2word)
            self.idx2word.append(word)
        return self.word2idx[word]

    def __len__(self) -> int:
        return len(self.idx2word)


def tokenize(path: str | os.PathLike[str]) -> tuple[Tensor, Dictionary]:
    """The words of ``path``, one ``<eos>`` after each line, as ids (int64) and their dictionary."""
    dictionary = Dictionary()
    ids: list[int] = []
    with open(path, encoding="utf8") as f:
        for line in f:
            ids.extend(dictionary.add_word(word) for word in [*line.split(), "<eos>"])
    return torch.tensor(ids, dtype=torch.int64), dictionary


def write_synthetic_wikitext(path: str | os.PathLike[str], articles: int = 40, vocab_size: int = 600, seed: int = 0) -> Path:
    """Write a WikiText-2-shaped corpus to ``path`` (atomically) and return the path.

    Words are made-up syllable strings drawn with Zipf-like frequencies; each word prefers a
    few successors, so the text has structure for a language model to learn. Article and
    section headings, ``<unk>``, `` @-@ `` compounds, commas and full stops are WikiText's.
    """
    rng = random.Random(seed)
    syllables = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "den", "mar", "tel", "os", "ur", "ia"]
    vocab = sorted({"".join(rng.choice(syllables) for _ in range(rng.randint(1, 3))) for _ in range(vocab_size * 2)})[:vocab_size]
    weights = [1.0 / (rank + 1) for rank in range(len(vocab))]
    successors = {word: rng.choices(vocab, weights, k=4) for word in vocab}

    def sentence() -> str:
        word = rng.choices(vocab, weights)[0]
        words = [word.capitalize()]
        for _ in range(rng.randint(6, 22)):
            word = rng.choice(successors[word]) if rng.random() < 0.8 else rng.choices(vocab, weights)[0]
            roll = rng.random()
            words.append("<unk>" if roll < 0.03 else f"{word} @-@ {rng.choice(vocab)}" if roll < 0.05 else word)
            if rng.random() < 0.08:
                words.append(",")
        return " ".join(words) + " ."

    lines: list[str] = []
    for _ in range(articles):
        lines += ["", f" = {' '.join(w.capitalize() for w in rng.sample(vocab, 2))} = ", ""]
        for section in range(rng.randint(1, 3)):
            if section:
                lines += [f" = = {rng.choice(vocab).capitalize()} = = ", ""]
            lines += [" " + " ".join(sentence() for _ in range(rng.randint(2, 6))) + " ", ""]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf8")
    os.replace(tmp, path)
    return path


class WikiText2(Dataset):
    """WikiText-2's training text as ``(inputs, target)`` blocks of ``block_size`` word ids.

    ``target`` is ``inputs`` shifted by one word. ``data_dir / "wikitext-2.txt"`` is read; when
    missing it is downloaded from ``url`` (``download=True``) or written offline by
    :func:`write_synthetic_wikitext` (``download=False``).
    """

    def __init__(self, data_dir: str | os.PathLike[str] = Path("./data"), block_size: int = 35, download: bool = True,
                 url: str = WIKITEXT2_URL) -> None:
        super().__init__()
        self.path = Path(data_dir) / "wikitext-2.txt"
        if not self.path.exists():
            if download:
                self.download(self.path, url)
            else:
                log.info("%s is missing and download=False: writing a synthetic WikiText-2-shaped corpus", self.path)
                write_synthetic_wikitext(self.path)
        self.data, self.dictionary = tokenize(self.path)
        self.block_size = block_size

    @property
    def vocab_size(self) -> int:
        return len(self.dictionary)

    def __len__(self) -> int:
        return len(self.data) // self.block_size - 1

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        start = index * self.block_size
        return self.data[start:start + self.block_size], self.data[start + 1:start + self.block_size + 1]

    @staticmethod
    def download(destination: str | os.PathLike[str], url: str = WIKITEXT2_URL) -> Path:
        """Fetch ``url`` to ``destination`` unless it is already there (atomic: never a partial file)."""
        destination = Path(destination)
        if destination.exists():
            return destination
        log.info("downloading %s", url)
        return fetch(url, destination, timeout=30.0)


class LightningTransformer(lit.LightningModule):
    """:class:`Transformer` as a ``LightningModule``: next-word NLL loss, SGD at 0.1.

    Its own data is :class:`WikiText2` in ``data_dir`` (``download`` as there); ``model_kwargs``
    size the :class:`Transformer`.
    """

    def __init__(self, vocab_size: int = 33278, data_dir: str | os.PathLike[str] = Path("./data"), download: bool = True,
                 **model_kwargs: Any) -> None:
        super().__init__()
        self.model = Transformer(vocab_size=vocab_size, **model_kwargs)
        self.data_dir, self.download = data_dir, download

    def forward(self, inputs: Tensor, target: Tensor) -> Tensor:
        return self.model(inputs, target)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        inputs, target = batch
        return F.nll_loss(self(inputs, target), target.view(-1))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.model.parameters(), lr=0.1)

    def prepare_data(self) -> None:
        WikiText2(self.data_dir, download=self.download)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(WikiText2(self.data_dir, download=self.download))
