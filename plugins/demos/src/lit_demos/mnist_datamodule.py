"""MNIST-shaped demo data: a ``Dataset`` of 1x28x28 digit images and a ``LightningDataModule``.

``MNIST(root)`` reads ``root/MNIST/complete/{training,test}.pt`` (each a ``(uint8 images of
shape (N, 28, 28), int64 labels)`` pair, loaded with ``weights_only=True``). Missing files are
downloaded from :data:`MNIST_RESOURCES` (``download=True``) or, with ``download=False``, written
offline by :func:`write_synthetic_mnist`: ten glyphs drawn at random sizes, near-centre positions, stroke
strengths and noise — a task a small network learns in seconds. No torchvision needed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset, random_split

import lit_core as lit

from .download import fetch

log = logging.getLogger(__name__)

#: Where the processed training and test files are downloaded from.
MNIST_RESOURCES: tuple[str, str] = (
    "https://pl-public-data.s3.amazonaws.com/MNIST/processed/training.pt",
    "https://pl-public-data.s3.amazonaws.com/MNIST/processed/test.pt",
)

# 5x7 bitmaps of the ten digits, one string per row.
_GLYPHS = (
    (".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."),
    ("..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."),
    (".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"),
    ("####.", "....#", "....#", ".###.", "....#", "....#", "####."),
    ("...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."),
    ("#####", "#....", "####.", "....#", "....#", "#...#", ".###."),
    (".###.", "#....", "#....", "####.", "#...#", "#...#", ".###."),
    ("#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."),
    (".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."),
    (".###.", "#...#", "#...#", ".####", "....#", "....#", ".###."),
)


def synthetic_digits(n: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """``n`` MNIST-shaped images (uint8, ``(n, 28, 28)``) of the ten glyphs, and their labels."""
    g = torch.Generator().manual_seed(seed)
    glyphs = torch.tensor([[[c == "#" for c in row] for row in glyph] for glyph in _GLYPHS], dtype=torch.float)
    labels = torch.randint(0, 10, (n,), generator=g)
    images = torch.zeros(n, 28, 28)
    heights = torch.randint(14, 23, (n,), generator=g)
    widths = torch.randint(9, 17, (n,), generator=g)
    for i in range(n):
        h, w = int(heights[i]), int(widths[i])
        glyph = F.interpolate(glyphs[labels[i]][None, None], size=(h, w), mode="bilinear", align_corners=False)[0, 0]
        # Centred like MNIST's digits, give or take two pixels.
        top = (28 - h) // 2 + int(torch.randint(-2, 3, (), generator=g))
        left = (28 - w) // 2 + int(torch.randint(-2, 3, (), generator=g))
        images[i, top:top + h, left:left + w] = glyph * (0.6 + 0.4 * torch.rand((), generator=g))
    images = (images + 0.08 * torch.randn(images.shape, generator=g)).clamp(0, 1)
    return (images * 255).round().to(torch.uint8), labels


def write_synthetic_mnist(folder: str | os.PathLike[str], n_train: int = 6000, n_test: int = 1000, seed: int = 0) -> Path:
    """Write ``training.pt`` and ``test.pt`` of :func:`synthetic_digits` into ``folder`` (atomically)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, n, offset in ((MNIST.TRAIN_FILE_NAME, n_train, 0), (MNIST.TEST_FILE_NAME, n_test, 1)):
        tmp = folder / f".{name}.part"
        torch.save(synthetic_digits(n, seed + offset), tmp)
        os.replace(tmp, folder / name)
    return folder


class MNIST(Dataset):
    """MNIST's training or test split as ``(image of shape (1, 28, 28), label)`` pairs.

    Args:
        root: the data folder; files live in ``root/MNIST/complete``.
        train: the training split (else the test split).
        normalize: ``(mean, std)`` applied to the [0, 255] pixels scaled to [0, 1]; ``None`` for none.
        download: fetch missing files from ``resources``; ``False`` writes synthetic digits instead.
        resources: the URLs of ``training.pt`` and ``test.pt``.
    """

    TRAIN_FILE_NAME = "training.pt"
    TEST_FILE_NAME = "test.pt"

    def __init__(self, root: str | os.PathLike[str], train: bool = True, normalize: tuple[float, float] | None = (0.1307, 0.3081),
                 download: bool = True, resources: Sequence[str] = MNIST_RESOURCES) -> None:
        super().__init__()
        self.root = Path(root)
        self.train = train
        self.normalize = normalize
        self.prepare_data(download, resources)
        name = self.TRAIN_FILE_NAME if train else self.TEST_FILE_NAME
        self.data, self.targets = torch.load(self.cached_folder_path / name, weights_only=True)

    @property
    def cached_folder_path(self) -> Path:
        return self.root / "MNIST" / "complete"

    def _check_exists(self) -> bool:
        return all((self.cached_folder_path / name).is_file() for name in (self.TRAIN_FILE_NAME, self.TEST_FILE_NAME))

    def prepare_data(self, download: bool = True, resources: Sequence[str] = MNIST_RESOURCES) -> None:
        """Make sure both files are on disk: downloaded, or synthetic when ``download=False``."""
        if self._check_exists():
            return
        if download:
            for url in resources:
                log.info("downloading %s", url)
                fetch(url, self.cached_folder_path / os.path.basename(url), timeout=30.0)
        else:
            log.info("MNIST is not in %s and download=False: writing synthetic digits", self.cached_folder_path)
            write_synthetic_mnist(self.cached_folder_path)

    def __getitem__(self, idx: int) -> tuple[Tensor, int]:
        img = self.data[idx].float().div(255).unsqueeze(0)
        if self.normalize is not None:
            img = (img - self.normalize[0]) / self.normalize[1]
        return img, int(self.targets[idx])

    def __len__(self) -> int:
        return len(self.data)


class MNISTDataModule(lit.LightningDataModule):
    """MNIST's training split cut into train / validation, and its test split.

    Args:
        data_dir: the data folder (see :class:`MNIST`).
        val_split: how many training images go to validation.
        num_workers: dataloader worker processes.
        normalize: normalise to mean 0.5 / std 0.5 (else pixels in [0, 1]).
        seed: seeds the train / validation split.
        batch_size: batch size of every dataloader.
        download: see :class:`MNIST`; ``False`` uses synthetic digits when no copy is on disk.
    """

    name = "mnist"

    def __init__(self, data_dir: str | os.PathLike[str] = "./data", val_split: int = 5000, num_workers: int = 0,
                 normalize: bool = False, seed: int = 42, batch_size: int = 32, download: bool = True) -> None:
        super().__init__()
        self.data_dir = data_dir
        self.val_split = val_split
        self.num_workers = num_workers
        self.normalize = normalize
        self.seed = seed
        self.batch_size = batch_size
        self.download = download

    @property
    def num_classes(self) -> int:
        return 10

    def _dataset(self, train: bool) -> MNIST:
        return MNIST(self.data_dir, train=train, normalize=(0.5, 0.5) if self.normalize else None, download=self.download)

    def prepare_data(self) -> None:
        self._dataset(train=True)

    def setup(self, stage: str) -> None:
        dataset = self._dataset(train=True)
        val = min(self.val_split, len(dataset) // 2)
        self.dataset_train, self.dataset_val = random_split(
            dataset, [len(dataset) - val, val], generator=torch.Generator().manual_seed(self.seed)
        )
        self.dataset_test = self._dataset(train=False)

    def _loader(self, dataset: Dataset, shuffle: bool) -> DataLoader:
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=shuffle, num_workers=self.num_workers, drop_last=True)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.dataset_train, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.dataset_val, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.dataset_test, shuffle=False)
