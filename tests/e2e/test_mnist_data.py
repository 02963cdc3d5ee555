"""The MNIST example's data code: IDX parsing, mirrored download, offline fallback.

Downloads are served by a real HTTP server on 127.0.0.1 from a tiny MNIST the
tests write themselves; nothing here reaches the internet or needs the Trainer.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import logging
import socket
import struct
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

import numpy as np
import pytest
import torch

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` by path: examples are scripts, not a package."""
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


mnist = _load_example("mnist")

# (kind, itemsize) -> IDX type code; written out here so the parser is checked
# against an independent writer rather than against itself.
_IDX_CODES = {("u", 1): 0x08, ("i", 1): 0x09, ("i", 2): 0x0B, ("i", 4): 0x0C}
_IDX_CODES |= {("f", 4): 0x0D, ("f", 8): 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    """Serialise ``array`` in the IDX format (big-endian header and data)."""
    code = _IDX_CODES[(array.dtype.kind, array.dtype.itemsize)]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.fixture(scope="module")
def tiny_mnist() -> dict[str, np.ndarray]:
    """A 100-train / 20-test MNIST of random pixels, keyed by standard file name."""
    rng = np.random.default_rng(0)
    return {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (100, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, 100, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, 20, dtype=np.uint8),
    }


@pytest.fixture(scope="module")
def gz_files(tiny_mnist: dict[str, np.ndarray]) -> dict[str, bytes]:
    return {name: gzip.compress(idx_bytes(array)) for name, array in tiny_mnist.items()}


def digests(files: dict[str, bytes], algorithm: str = "md5") -> dict[str, str]:
    return {name: hashlib.new(algorithm, data).hexdigest() for name, data in files.items()}


class Mirrors:
    """Base URLs of the local test server's mirrors, and the paths it was asked for.

    ``good`` serves the files, ``corrupt`` serves them with one byte flipped,
    ``hang`` accepts the request and never answers, ``missing`` answers 404, and
    ``closed`` is a port nobody listens on.
    """

    def __init__(self, port: int, closed_port: int) -> None:
        base = f"http://127.0.0.1:{port}"
        self.good = f"{base}/good/"
        self.corrupt = f"{base}/corrupt/"
        self.hang = f"{base}/hang/"
        self.missing = f"{base}/missing/"
        self.closed = f"http://127.0.0.1:{closed_port}/mnist/"
        self.requests: list[str] = []

    def requested(self, mirror: str) -> int:
        """How many files were requested from ``mirror``."""
        prefix = urlsplit(mirror).path
        return sum(request.startswith(prefix) for request in self.requests)


def _closed_port() -> int:
    """A local port that refuses connections: bound once to pick it, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def mirrors(gz_files: dict[str, bytes]) -> Iterator[Mirrors]:
    release = threading.Event()
    served: dict[str, bytes] = {}
    for name, data in gz_files.items():
        served[f"/good/{name}"] = data
        served[f"/corrupt/{name}"] = data[:-1] + bytes([data[-1] ^ 0xFF])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            record.requests.append(self.path)
            if self.path.startswith("/hang/"):
                release.wait(10)  # until the test is over: the client must time out
                return
            body = served.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep the test output clean

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    record = Mirrors(server.server_address[1], _closed_port())
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield record
    release.set()
    server.shutdown()
    server.server_close()
    thread.join()


def assert_files_are(root: Path, gz_files: dict[str, bytes]) -> None:
    """``root`` holds exactly the served files, byte for byte, and nothing else."""
    assert sorted(p.name for p in root.iterdir()) == sorted(gz_files)
    for name, data in gz_files.items():
        assert (root / name).read_bytes() == data


@pytest.mark.parametrize("dtype", ["u1", "i1", "i2", "i4", "f4", "f8"])
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trip(tmp_path: Path, dtype: str, compress: bool) -> None:
    array = (np.arange(2 * 3 * 5) - 7).astype(dtype).reshape(2, 3, 5)
    data = idx_bytes(array)
    path = tmp_path / "array.idx"
    path.write_bytes(gzip.compress(data) if compress else data)

    result = mnist.read_idx(path)

    assert result.dtype == np.dtype(dtype) and result.dtype.isnative
    np.testing.assert_array_equal(result, array)
    torch.from_numpy(result)  # writable and native: usable by torch without a copy


@pytest.mark.parametrize(
    "mangle",
    [
        lambda data: b"\x01" + data[1:],  # bad magic
        lambda data: data[:2] + b"\x07" + data[3:],  # unknown type code
        lambda data: data[:-1],  # truncated data
        lambda data: data + b"\x00",  # trailing garbage
        lambda data: data[:6],  # truncated header
    ],
)
def test_read_idx_rejects_malformed_files(tmp_path: Path, mangle: Callable[[bytes], bytes]) -> None:
    path = tmp_path / "bad.idx"
    path.write_bytes(mangle(idx_bytes(np.zeros((4, 3), dtype=np.uint8))))
    with pytest.raises(ValueError):
        mnist.read_idx(path)


def test_download_falls_through_dead_mirrors(
    tmp_path: Path,
    mirrors: Mirrors,
    gz_files: dict[str, bytes],
    tiny_mnist: dict[str, np.ndarray],
) -> None:
    root = mnist.download_mnist(
        tmp_path / "mnist",
        mirrors=[mirrors.closed, mirrors.missing, mirrors.good],
        checksums=digests(gz_files),
    )

    assert_files_are(root, gz_files)
    for name, array in tiny_mnist.items():
        np.testing.assert_array_equal(mnist.read_idx(root / name), array)
    # A mirror that answers 404 is still asked for every file.
    assert mirrors.requested(mirrors.missing) == 4
    assert mirrors.requested(mirrors.good) == 4


def test_download_rejects_corrupted_file_and_uses_next_mirror(
    tmp_path: Path, mirrors: Mirrors, gz_files: dict[str, bytes]
) -> None:
    root = mnist.download_mnist(
        tmp_path,
        mirrors=[mirrors.corrupt, mirrors.good],
        checksums=digests(gz_files, "sha256"),
    )

    assert_files_are(root, gz_files)  # no corrupted copy, no leftover temporary file
    assert mirrors.requested(mirrors.corrupt) == 4


def test_download_fails_without_leaving_files_when_every_copy_is_corrupt(
    tmp_path: Path, mirrors: Mirrors, gz_files: dict[str, bytes]
) -> None:
    with pytest.raises(mnist.MNISTUnavailableError, match="checksum mismatch"):
        mnist.download_mnist(tmp_path, [mirrors.corrupt], digests(gz_files))
    assert list(tmp_path.iterdir()) == []


def test_download_gives_up_on_unresponsive_mirror_after_timeout(
    tmp_path: Path, mirrors: Mirrors, gz_files: dict[str, bytes]
) -> None:
    root = mnist.download_mnist(tmp_path, [mirrors.hang, mirrors.good], digests(gz_files), timeout=0.3)

    assert_files_are(root, gz_files)
    # Timed out once, then skipped for the other three files.
    assert mirrors.requested(mirrors.hang) == 1


def test_download_keeps_files_already_present(tmp_path: Path, mirrors: Mirrors, gz_files: dict[str, bytes]) -> None:
    name = "t10k-labels-idx1-ubyte.gz"
    (tmp_path / name).write_bytes(gz_files[name])

    mnist.download_mnist(tmp_path, [mirrors.good], digests(gz_files))

    assert_files_are(tmp_path, gz_files)
    assert f"/good/{name}" not in mirrors.requests


def test_datamodule_downloads_and_splits_local_mnist(
    tmp_path: Path,
    mirrors: Mirrors,
    gz_files: dict[str, bytes],
    tiny_mnist: dict[str, np.ndarray],
) -> None:
    dm = mnist.MNISTDataModule(
        data_dir=tmp_path,
        batch_size=16,
        mirrors=[mirrors.closed, mirrors.good],
        checksums=digests(gz_files),
    )
    dm.prepare_data()
    dm.setup("fit")

    assert dm.source == "mnist"
    # 1/12 of the 100 training images go to validation, the split seeded.
    assert (len(dm.train_dataset), len(dm.val_dataset), len(dm.test_dataset)) == (
        92,
        8,
        20,
    )
    assert sorted(dm.train_dataset.indices + dm.val_dataset.indices) == list(range(100))
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (16, 1, 28, 28) and x.dtype == torch.float32
    assert y.shape == (16,) and y.dtype == torch.int64

    # The test set is t10k, in order, normalised from [0, 1].
    images, labels = dm.test_dataset.tensors
    pixels = torch.round((images * mnist.MNIST_STD + mnist.MNIST_MEAN) * 255)
    expected = torch.from_numpy(tiny_mnist["t10k-images-idx3-ubyte.gz"]).unsqueeze(1)
    assert torch.equal(pixels.to(torch.uint8), expected)
    assert labels.tolist() == tiny_mnist["t10k-labels-idx1-ubyte.gz"].tolist()


def test_datamodule_val_size_parameter(tmp_path: Path, mirrors: Mirrors, gz_files: dict[str, bytes]) -> None:
    dm = mnist.MNISTDataModule(
        data_dir=tmp_path,
        mirrors=[mirrors.good],
        checksums=digests(gz_files),
        val_size=30,
    )
    dm.prepare_data()
    dm.setup()
    assert (len(dm.train_dataset), len(dm.val_dataset)) == (70, 30)


def _fallback_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_datamodule_falls_back_to_digits_when_no_mirror_works(
    tmp_path: Path,
    mirrors: Mirrors,
    gz_files: dict[str, bytes],
    caplog: pytest.LogCaptureFixture,
) -> None:
    dm = mnist.MNISTDataModule(
        data_dir=tmp_path,
        mirrors=[mirrors.closed, mirrors.missing],
        checksums=digests(gz_files),
    )
    # The Trainer prepares and sets up once for fit and again for test.
    for stage in ("fit", "test"):
        dm.prepare_data()
        dm.setup(stage)

    assert dm.source == "sklearn-digits"
    (record,) = _fallback_records(caplog)
    message = record.getMessage()
    assert "\n" not in message
    assert message.startswith("MNIST not available (could not download")
    assert message.endswith("using scikit-learn's 8x8 digits scaled to 28x28 instead")
    # The failed download was not retried by the second prepare_data.
    assert mirrors.requested(mirrors.missing) == 1
    assert list(tmp_path.iterdir()) == []
    # 1/7 of the 1797 digits for test, 1/12 of the rest for validation.
    sizes = (len(dm.train_dataset), len(dm.val_dataset), len(dm.test_dataset))
    assert sizes == (1413, 128, 256)
    x, y = next(iter(dm.val_dataloader()))
    assert x.shape == (64, 1, 28, 28) and y.dtype == torch.int64


def test_download_false_falls_back_without_network(tmp_path: Path, mirrors: Mirrors, caplog: pytest.LogCaptureFixture) -> None:
    dm = mnist.MNISTDataModule(data_dir=tmp_path, mirrors=[mirrors.good], download=False)
    dm.prepare_data()
    dm.setup()

    assert dm.source == "sklearn-digits"
    assert mirrors.requests == []
    (record,) = _fallback_records(caplog)
    assert "download=False" in record.getMessage()


def test_digits_fallback_looks_like_mnist() -> None:
    train, test = mnist.load_digits_as_mnist(seed=3)
    again_train, _ = mnist.load_digits_as_mnist(seed=3)

    x, y = train.tensors
    assert x.shape == (1797 - 256, 1, 28, 28) and x.dtype == torch.float32
    assert test.tensors[0].shape == (256, 1, 28, 28)
    assert set(y.tolist()) == set(range(10))
    assert torch.equal(x, again_train.tensors[0])  # the split is deterministic
    pixels = x * mnist.MNIST_STD + mnist.MNIST_MEAN
    assert pixels.min() >= -1e-6 and pixels.max() <= 1 + 1e-6
    # Digits sit in the middle 20x20 like MNIST's, on a 4-pixel blank border.
    border = torch.ones(28, 28, dtype=torch.bool)
    border[4:24, 4:24] = False
    assert pixels[:, 0, border].abs().max() < 1e-6


def test_load_mnist_rejects_mismatched_files(tmp_path: Path, gz_files: dict[str, bytes]) -> None:
    for name, data in gz_files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(idx_bytes(np.zeros(19, dtype=np.uint8)))
    with pytest.raises(ValueError, match="t10k images and labels"):
        mnist.load_mnist(tmp_path)
