"""lit-demos (``lit_core.demos``): Lightning's demo models and datasets, trained for real, with
downloads served by a local HTTP server and the offline (synthetic) copies."""

from __future__ import annotations

import io
import math
import threading
import urllib.error
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import lit_core as lit
from lit_core.demos import (
    MNIST,
    BoringDataModule,
    BoringModel,
    DemoModel,
    LightningLSTM,
    LightningTransformer,
    ManualOptimBoringModel,
    MNISTDataModule,
    RandomDictDataset,
    RandomIterableDataset,
    RandomIterableDatasetWithLen,
    SequenceSampler,
    Transformer,
    WikiText2,
)
from lit_core.demos.transformer import tokenize
from lit_demos.mnist_datamodule import synthetic_digits
from lit_demos.transformer import write_synthetic_wikitext


def quiet_trainer(tmp_path: Path, **kwargs: object) -> lit.Trainer:
    return lit.Trainer(default_root_dir=tmp_path, accelerator="cpu", enable_progress_bar=False, enable_model_summary=False,
                       enable_checkpointing=False, logger=False, **kwargs)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, bytes], list[str]]]:
    """A local HTTP server: (base URL, path -> bytes it serves (fill it in), paths requested)."""
    files: dict[str, bytes] = {}
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            body = files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", files, requests
    finally:
        server.shutdown()
        server.server_close()


def test_boring_model_and_datamodule_train(tmp_path: Path) -> None:
    model = BoringModel()
    before = model.layer.weight.detach().clone()
    trainer = quiet_trainer(tmp_path, max_epochs=1, limit_train_batches=8, limit_val_batches=2)
    trainer.fit(model, datamodule=BoringDataModule())
    assert trainer.global_step == 8
    assert not torch.equal(before, model.layer.weight)
    # StepLR(step_size=1) after one epoch: lr 0.1 -> 0.01.
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.01)
    assert len(trainer.predict(model, datamodule=BoringDataModule())) == 64


def test_manual_optim_boring_model_steps_its_optimizer(tmp_path: Path) -> None:
    model = ManualOptimBoringModel()
    before = model.layer.weight.detach().clone()
    quiet_trainer(tmp_path, max_steps=3, limit_val_batches=0).fit(model)
    assert not torch.equal(before, model.layer.weight)


def test_demo_model_and_random_datasets(tmp_path: Path) -> None:
    assert len(RandomIterableDatasetWithLen(32, 5)) == 5 and len(list(RandomIterableDataset(32, 5))) == 5
    item = RandomDictDataset(4, 3)[1]
    assert torch.equal(item["b"], item["a"] + 2)
    model = DemoModel(out_dim=3)
    loader = torch.utils.data.DataLoader(RandomIterableDatasetWithLen(32, 16), batch_size=4)
    quiet_trainer(tmp_path, max_epochs=1).fit(model, train_dataloaders=loader)


def test_synthetic_mnist_is_learnable_offline(tmp_path: Path) -> None:
    """``download=False`` writes MNIST-shaped synthetic digits that an MLP learns in one short epoch."""

    class Classifier(lit.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 64), nn.ReLU(), nn.Linear(64, 10))

        def training_step(self, batch, batch_idx):
            x, y = batch
            return F.cross_entropy(self.net(x), y)

        def test_step(self, batch, batch_idx):
            x, y = batch
            self.log("acc", (self.net(x).argmax(1) == y).float().mean())

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=3e-3)

    torch.manual_seed(0)
    dm = MNISTDataModule(data_dir=tmp_path, val_split=500, batch_size=64, download=False)
    trainer = quiet_trainer(tmp_path, max_epochs=2, limit_val_batches=0)
    trainer.fit(Classifier(), datamodule=dm)
    (result,) = trainer.test(datamodule=dm, verbose=False)
    assert result["acc"] > 0.8
    assert (tmp_path / "MNIST" / "complete" / "training.pt").is_file()
    x, y = MNIST(tmp_path, train=False, download=False)[0]
    assert x.shape == (1, 28, 28) and 0 <= y < 10


def test_mnist_downloads_from_its_resources(tmp_path: Path, served: tuple[str, dict[str, bytes], list[str]]) -> None:
    base, files, requests = served
    for name, n in (("training.pt", 12), ("test.pt", 4)):
        buffer = io.BytesIO()
        torch.save(synthetic_digits(n, seed=n), buffer)
        files[f"/mnist/{name}"] = buffer.getvalue()
    urls = (f"{base}/mnist/training.pt", f"{base}/mnist/test.pt")
    train = MNIST(tmp_path, train=True, resources=urls, normalize=None)
    assert len(train) == 12 and requests == ["/mnist/training.pt", "/mnist/test.pt"]
    assert torch.equal(train.data, synthetic_digits(12, seed=12)[0])
    assert train[0][0].max() <= 1.0  # normalize=None: pixels scaled to [0, 1] only
    MNIST(tmp_path, train=False, resources=urls)  # already on disk: nothing fetched
    assert len(requests) == 2


def test_failed_download_leaves_no_partial_file(tmp_path: Path, served: tuple[str, dict[str, bytes], list[str]]) -> None:
    base, _, _ = served
    with pytest.raises(urllib.error.HTTPError):
        MNIST(tmp_path, resources=(f"{base}/missing/training.pt", f"{base}/missing/test.pt"))
    assert list((tmp_path / "MNIST" / "complete").iterdir()) == []


def test_wikitext2_download_and_transformer_training(tmp_path: Path, served: tuple[str, dict[str, bytes], list[str]]) -> None:
    base, files, requests = served
    corpus = write_synthetic_wikitext(tmp_path / "source.txt", articles=10, vocab_size=80)
    files["/wikitext-2/train.txt"] = corpus.read_bytes()
    dataset = WikiText2(tmp_path / "data", block_size=16, url=f"{base}/wikitext-2/train.txt")
    assert requests == ["/wikitext-2/train.txt"]
    data, dictionary = tokenize(corpus)
    assert torch.equal(dataset.data, data) and dataset.vocab_size == len(dictionary)
    inputs, target = dataset[3]
    assert torch.equal(inputs[1:], target[:-1])

    torch.manual_seed(0)
    model = LightningTransformer(vocab_size=dataset.vocab_size, data_dir=tmp_path / "data", ninp=32, nhead=2, nhid=32, nlayers=1, dropout=0.0)
    losses: list[float] = []

    class Record(lit.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            losses.append(float(outputs["loss"]))

    loader = torch.utils.data.DataLoader(dataset, batch_size=8, shuffle=True)
    quiet_trainer(tmp_path, max_epochs=3, callbacks=[Record()]).fit(model, train_dataloaders=loader)
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 0.5


def test_wikitext2_offline_writes_a_wikitext_shaped_corpus(tmp_path: Path) -> None:
    dataset = WikiText2(tmp_path, block_size=35, download=False)
    text = dataset.path.read_text()
    assert " = = " in text and "<unk>" in text and " @-@ " in text
    assert len(dataset) > 100 and dataset.vocab_size > 100
    out = Transformer(vocab_size=dataset.vocab_size, ninp=16, nhead=2, nhid=16, nlayers=1)(*[t.unsqueeze(0) for t in dataset[0]])
    assert out.shape == (35, dataset.vocab_size)
    assert torch.allclose(out.exp().sum(-1), torch.ones(35), atol=1e-4)


def test_lstm_language_model_carries_its_state_across_batches(tmp_path: Path) -> None:
    write_synthetic_wikitext(tmp_path / "wikitext-2.txt", articles=8, vocab_size=60)
    sampler = SequenceSampler(range(10), batch_size=3)
    assert list(sampler) == [[0, 3, 6], [1, 4, 7], [2, 5, 8]] and len(sampler) == 3

    torch.manual_seed(0)
    vocab = WikiText2(tmp_path, block_size=8).vocab_size
    model = LightningLSTM(vocab_size=vocab, data_dir=tmp_path, download=False, batch_size=4, ninp=16, nhid=16, nlayers=1, dropout=0.0)
    losses: list[float] = []

    class Record(lit.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            losses.append(float(outputs["loss"]))
            assert pl_module.hidden is not None and pl_module.hidden[0].shape == (1, 4, 16)

    before = model.model.decoder.weight.detach().clone()
    quiet_trainer(tmp_path, max_epochs=2, callbacks=[Record()]).fit(model)
    assert model.hidden is None  # reset at each epoch's end
    assert len(losses) == 2 * len(SequenceSampler(WikiText2(tmp_path, download=False), 4))
    assert all(math.isfinite(loss) for loss in losses) and not torch.equal(before, model.model.decoder.weight)
