"""Train the walk-through's ``LitMNIST`` classifier on MNIST with ``lit``.

Run it as a script::

    python examples/mnist.py --max-epochs 15

The data code (:func:`read_idx`, :func:`download_mnist`, :func:`load_mnist`,
:func:`load_digits_as_mnist` and :class:`MNISTDataModule`) only needs torch,
numpy and, for the offline fallback, scikit-learn; it never touches the Trainer.

MNIST is fetched without torchvision: the four gzip'd IDX files are downloaded
from a list of mirrors, each checked against a checksum before it is moved into
place. When no copy is on disk and none can be downloaded, the datamodule falls
back to scikit-learn's bundled 8x8 handwritten digits, scaled into MNIST's
28x28 frame, so the example still trains and tests offline.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import logging
import math
import os
import struct
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset, TensorDataset, random_split

import lit_core as lit
from lit_demos.download import ChecksumError, fetch

log = logging.getLogger(__name__)

MNIST_FILES: tuple[str, ...] = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
"""The four standard MNIST files, in the order they are downloaded."""

MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
"""Public MNIST mirrors, tried in order."""

MNIST_MD5: Mapping[str, str] = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
"""MD5 of each gzip'd MNIST file as published."""

# Normalisation constants of the walk-through (mean and std of MNIST's training pixels).
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081

# IDX type codes (third magic byte) -> big-endian numpy dtype.
_IDX_DTYPES: Mapping[int, str] = {
    0x08: "u1",
    0x09: "i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}

_DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "MNIST"


class MNISTUnavailableError(RuntimeError):
    """No mirror could provide a verified copy of an MNIST file."""


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (optionally gzip'd) into a native-byte-order numpy array.

    The IDX format is two zero bytes, a type code, the number of dimensions,
    one big-endian uint32 per dimension, then the data in big-endian order.

    Raises:
        ValueError: if the header is malformed or the data size does not match it.
    """
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":  # gzip magic: the name alone is not trusted
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path}: not an IDX file (magic {raw[:4].hex()})")
    ndim = raw[3]
    data_start = 4 + 4 * ndim
    if len(raw) < data_start:
        raise ValueError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", raw[4:data_start])
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = dtype.itemsize * math.prod(shape)
    if len(raw) - data_start != expected:
        raise ValueError(f"{path}: header says {expected} data bytes, found {len(raw) - data_start}")
    array = np.frombuffer(raw, dtype=dtype, offset=data_start).reshape(shape)
    # astype copies into native order, which also makes the array writable for torch.
    return array.astype(dtype.newbyteorder("="))


def download_mnist(
    root: str | os.PathLike[str],
    mirrors: Sequence[str] = MNIST_MIRRORS,
    checksums: Mapping[str, str] = MNIST_MD5,
    timeout: float = 3.0,
) -> Path:
    """Download the missing MNIST files into ``root`` and return ``root``.

    Each file is tried on every mirror in order until one serves bytes matching
    ``checksums`` (MD5 or SHA-256 hex digests, keyed by file name). A file already
    in ``root`` is kept as is: it can only have got there whole and verified.

    A mirror that cannot be reached (refused, unresolvable, timed out) is skipped
    for the remaining files, so with no network at all the whole call costs at most
    one ``timeout`` per mirror instead of one per file and mirror. A mirror that
    answers with an HTTP error or a bad checksum is still tried for the other files.

    Args:
        root: directory to download into; created if needed.
        mirrors: base URLs the file names are appended to.
        checksums: expected digest of each of :data:`MNIST_FILES`.
        timeout: seconds allowed for each connect and each read.

    Raises:
        MNISTUnavailableError: if some file could not be fetched from any mirror.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    unreachable: set[str] = set()
    for name in MNIST_FILES:
        target = root / name
        if target.exists():
            continue
        failures = []
        for mirror in mirrors:
            url = mirror if mirror.endswith("/") else mirror + "/"
            url += name
            if mirror in unreachable:
                failures.append(f"{url}: skipped, mirror unreachable")
                continue
            try:
                fetch(url, target, checksums[name], timeout)
            except urllib.error.HTTPError as exc:
                # The server answered, so it stays in the running for the other files.
                failures.append(f"{url}: HTTP {exc.code}")
            except ChecksumError as exc:
                failures.append(f"{url}: {exc}")
            except (OSError, http.client.HTTPException) as exc:
                unreachable.add(mirror)
                reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
                failures.append(f"{url}: {reason}")
            else:
                log.info("downloaded %s", url)
                break
        else:
            raise MNISTUnavailableError(f"could not download {name}: " + "; ".join(failures))
    return root


def _normalize(images: Tensor) -> Tensor:
    """Map images in [0, 1] of shape (N, 28, 28) to the model's (N, 1, 28, 28) input."""
    return ((images - MNIST_MEAN) / MNIST_STD).unsqueeze(1)


def load_mnist(root: str | os.PathLike[str]) -> tuple[TensorDataset, TensorDataset]:
    """Load the MNIST files in ``root`` as normalised ``(train, test)`` datasets.

    Each dataset yields ``(image, label)`` with images of shape (1, 28, 28), float32,
    normalised with (:data:`MNIST_MEAN`, :data:`MNIST_STD`), and int64 labels.
    """
    root = Path(root)
    splits = []
    for prefix in ("train", "t10k"):
        images = torch.from_numpy(read_idx(root / f"{prefix}-images-idx3-ubyte.gz"))
        labels = torch.from_numpy(read_idx(root / f"{prefix}-labels-idx1-ubyte.gz"))
        if images.shape[1:] != (28, 28) or labels.shape != images.shape[:1]:
            shapes = f"{tuple(images.shape)} and {tuple(labels.shape)}"
            raise ValueError(f"{root}: {prefix} images and labels are {shapes}, not (N, 28, 28) and (N,)")
        splits.append(TensorDataset(_normalize(images.float() / 255), labels.long()))
    return splits[0], splits[1]


def load_digits_as_mnist(seed: int = 0) -> tuple[TensorDataset, TensorDataset]:
    """Scikit-learn's 1797 8x8 digits, shaped and normalised like :func:`load_mnist`.

    MNIST centres each digit in a 20x20 box inside a 28x28 frame, so the 8x8
    images are scaled bilinearly to 20x20 and padded by 4 pixels of background;
    intensities 0-16 become [0, 1] before the usual normalisation. A seeded
    permutation holds out 1/7 of the images as the test set, MNIST's own share
    (10000 of 70000), so the split is the same on every run.
    """
    # Imported here: scikit-learn is only needed offline and takes a while to import.
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.from_numpy(digits.images).float().unsqueeze(1) / 16
    images = F.interpolate(images, size=(20, 20), mode="bilinear", align_corners=False)
    images = F.pad(images.clamp(0, 1), (4, 4, 4, 4)).squeeze(1)
    inputs = _normalize(images)
    labels = torch.from_numpy(digits.target).long()

    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    n_test = len(labels) // 7
    test, train = order[:n_test], order[n_test:]
    train_set = TensorDataset(inputs[train], labels[train])
    return train_set, TensorDataset(inputs[test], labels[test])


class MNISTDataModule(lit.LightningDataModule):
    """MNIST as train/val/test dataloaders, with an offline fallback.

    ``prepare_data`` downloads the files (if ``download``) and ``setup`` loads them.
    If no complete copy is in ``data_dir`` by then, ``setup`` logs one warning and
    uses :func:`load_digits_as_mnist` instead; ``download=False`` therefore forces
    the fallback when ``data_dir`` is empty, without touching the network.
    :attr:`source` tells which one was loaded.

    The validation set is split off the training images with a generator seeded
    by ``seed``. Its size is ``val_size`` if given, otherwise 1/12 of the training
    images: exactly the walk-through's 55000/5000 split on real MNIST, and a split
    that still works on smaller data (the digits fallback, or a test's tiny copy).

    Args:
        data_dir: where the gzip'd IDX files are looked for and downloaded to.
        batch_size: batch size of every dataloader.
        mirrors: base URLs tried in order by :func:`download_mnist`.
        checksums: expected digest of each file, see :func:`download_mnist`.
        download: whether ``prepare_data`` may download missing files.
        num_workers: worker processes of every dataloader.
        val_size: number of validation images; ``None``: 1/12 of the training images.
        timeout: seconds allowed for each connect and read of a download.
        seed: seeds the train/val split and the fallback's test split.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str] = _DEFAULT_DATA_DIR,
        batch_size: int = 64,
        mirrors: Sequence[str] = MNIST_MIRRORS,
        checksums: Mapping[str, str] = MNIST_MD5,
        download: bool = True,
        num_workers: int = 0,
        val_size: int | None = None,
        timeout: float = 3.0,
        seed: int = 42,
    ) -> None:
        super().__init__()
        self.data_dir = Path(data_dir)
        self.batch_size = batch_size
        self.mirrors = tuple(mirrors)
        self.checksums = dict(checksums)
        self.download = download
        self.num_workers = num_workers
        self.val_size = val_size
        self.timeout = timeout
        self.seed = seed
        self.source: str | None = None
        self._download_error: MNISTUnavailableError | None = None
        self.train_dataset: Dataset | None = None
        self.val_dataset: Dataset | None = None
        self.test_dataset: Dataset | None = None

    def _have_mnist(self) -> bool:
        return all((self.data_dir / name).exists() for name in MNIST_FILES)

    def prepare_data(self) -> None:
        """Download the MNIST files that are missing, if downloading is allowed."""
        # fit and test both call prepare_data: after one failed attempt, don't wait
        # on the same unreachable mirrors again.
        if not self.download or self._have_mnist() or self._download_error is not None:
            return
        try:
            download_mnist(self.data_dir, self.mirrors, self.checksums, self.timeout)
        except MNISTUnavailableError as exc:
            self._download_error = exc  # setup() reports it when it falls back

    def setup(self, stage: str | None = None) -> None:
        """Load MNIST (or the fallback) and split it; later calls reuse the first load.

        Every stage gets all three splits: they are small enough to keep in memory,
        and loading once means the fallback warning is logged once.
        """
        if self.source is not None:
            return
        if self._have_mnist():
            train_pool, self.test_dataset = load_mnist(self.data_dir)
            self.source = "mnist"
        else:
            reason = self._download_error or f"no copy in {self.data_dir}, download={self.download}"
            log.warning(
                "MNIST not available (%s): using scikit-learn's 8x8 digits scaled to 28x28 instead",
                reason,
            )
            train_pool, self.test_dataset = load_digits_as_mnist(self.seed)
            self.source = "sklearn-digits"
        n_val = len(train_pool) // 12 if self.val_size is None else self.val_size
        self.train_dataset, self.val_dataset = random_split(
            train_pool,
            [len(train_pool) - n_val, n_val],
            generator=torch.Generator().manual_seed(self.seed),
        )

    def train_dataloader(self) -> DataLoader:
        return DataLoader(
            self.train_dataset,
            batch_size=self.batch_size,
            shuffle=True,
            num_workers=self.num_workers,
        )

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_dataset, batch_size=self.batch_size, num_workers=self.num_workers)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.test_dataset, batch_size=self.batch_size, num_workers=self.num_workers)


class LitMNIST(lit.LightningModule):
    """The walk-through's MLP classifier: 784-128-256-10, log-softmax outputs."""

    def __init__(self, lr: float = 1e-3) -> None:
        super().__init__()
        self.save_hyperparameters()
        # mnist images are (1, 28, 28) (channels, height, width)
        self.layer_1 = nn.Linear(28 * 28, 128)
        self.layer_2 = nn.Linear(128, 256)
        self.layer_3 = nn.Linear(256, 10)

    def forward(self, x: Tensor) -> Tensor:
        """Log-probabilities of the 10 classes for a batch of (B, 1, 28, 28) images."""
        x = x.view(x.size(0), -1)
        x = F.relu(self.layer_1(x))
        x = F.relu(self.layer_2(x))
        return F.log_softmax(self.layer_3(x), dim=1)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        x, y = batch
        loss = F.nll_loss(self(x), y)
        self.log("train_loss", loss)
        return loss

    def _evaluate(self, batch: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        x, y = batch
        logits = self(x)
        return F.nll_loss(logits, y), (logits.argmax(dim=1) == y).float().mean()

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        loss, acc = self._evaluate(batch)
        self.log("val_loss", loss, prog_bar=True)
        self.log("val_acc", acc, prog_bar=True)

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        loss, acc = self._evaluate(batch)
        self.log("test_loss", loss)
        self.log("test_acc", acc)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def parse_args(description: str, max_epochs: int) -> argparse.Namespace:
    """Command-line options shared by the MNIST examples."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--max-epochs", type=int, default=max_epochs)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=_DEFAULT_DATA_DIR,
        help="where MNIST is kept (default: %(default)s)",
    )
    parser.add_argument(
        "--no-download",
        action="store_true",
        help="never download: without a copy in --data-dir, use scikit-learn's digits",
    )
    parser.add_argument(
        "--default-root-dir",
        default=os.getcwd(),
        help="where the Trainer writes logs and checkpoints (default: cwd)",
    )
    return parser.parse_args()


def train_and_test(model: lit.LightningModule, args: argparse.Namespace) -> dict[str, float]:
    """Fit ``model`` on the MNIST data ``args`` describe; return its test metrics."""
    dm = MNISTDataModule(
        data_dir=args.data_dir,
        batch_size=args.batch_size,
        download=not args.no_download,
        seed=args.seed,
    )
    trainer = lit.Trainer(max_epochs=args.max_epochs, default_root_dir=args.default_root_dir)
    trainer.fit(model, datamodule=dm)
    return trainer.test(model, datamodule=dm)[0]


def main() -> None:
    """Train ``LitMNIST``, test it, and print the test accuracy."""
    args = parse_args(__doc__.splitlines()[0], max_epochs=15)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # Seed before the model exists: the initial weights are drawn in its __init__.
    lit.seed_everything(args.seed)
    results = train_and_test(LitMNIST(lr=args.lr), args)
    print(f"test accuracy: {results['test_acc']:.3f}")


if __name__ == "__main__":
    main()
