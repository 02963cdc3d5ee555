"""An autoencoder built by inheriting from the walk-through's ``LitMNIST``.

Run it as a script (it imports ``mnist.py`` from this directory)::

    python examples/autoencoder.py --max-epochs 10

``LitAutoEncoder`` keeps everything ``LitMNIST`` defines (its three linear layers,
saved hyperparameters and Adam optimiser) and only changes what the model computes:
the classifier's 784-128-256-10 layers become the encoder, producing a 10-d code,
a mirrored decoder maps the code back to an image, and the steps minimise the
reconstruction error instead of the classification loss. Labels are ignored, so
it trains on the same ``MNISTDataModule`` (or its offline fallback).
"""

from __future__ import annotations

import logging

from mnist import LitMNIST, parse_args, train_and_test
from torch import Tensor, nn
from torch.nn import functional as F

import lit_core as lit


class LitAutoEncoder(LitMNIST):
    """``LitMNIST``'s layers as an encoder to a 10-d code, plus a mirrored decoder."""

    def __init__(self, lr: float = 1e-3) -> None:
        super().__init__(lr=lr)
        self.decoder = nn.Sequential(
            nn.Linear(10, 256),
            nn.ReLU(),
            nn.Linear(256, 128),
            nn.ReLU(),
            nn.Linear(128, 28 * 28),
        )

    def forward(self, x: Tensor) -> Tensor:
        """The 10-d code (learned representation) of (B, 1, 28, 28) images."""
        x = x.view(x.size(0), -1)
        x = F.relu(self.layer_1(x))
        x = F.relu(self.layer_2(x))
        return self.layer_3(x)  # no log-softmax: a code, not class probabilities

    def _shared_step(self, batch: tuple[Tensor, Tensor], prefix: str) -> Tensor:
        x, _ = batch
        x_hat = self.decoder(self(x)).view_as(x)
        loss = F.mse_loss(x_hat, x)
        self.log(f"{prefix}_loss", loss, prog_bar=prefix == "val")
        return loss

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._shared_step(batch, "train")

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._shared_step(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._shared_step(batch, "test")


def main() -> None:
    """Train ``LitAutoEncoder``, test it, and print the test reconstruction loss."""
    args = parse_args(__doc__.splitlines()[0], max_epochs=10)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # Seed before the model exists: the initial weights are drawn in its __init__.
    lit.seed_everything(args.seed)
    results = train_and_test(LitAutoEncoder(lr=args.lr), args)
    print(f"test reconstruction loss (MSE): {results['test_loss']:.4f}")


if __name__ == "__main__":
    main()
