"""A GAN written like Lightning's domain-template GAN, ported by changing the import.

Manual optimization with two optimizers, ``training_step(self, batch)`` without ``batch_idx``,
``toggle_optimizer`` / ``untoggle_optimizer``, ``self.log`` and ``self.log_dict``. Trained a few
steps on synthetic images; the weights must equal the same updates written by hand.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

import lit_core as pl

IMG_SHAPE = (1, 6, 6)
LATENT_DIM = 8


class Generator(nn.Module):
    def __init__(self, latent_dim: int = LATENT_DIM) -> None:
        super().__init__()
        self.model = nn.Sequential(nn.Linear(latent_dim, 32), nn.LeakyReLU(0.2), nn.Linear(32, 36), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model(z).view(z.size(0), *IMG_SHAPE)


class Discriminator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.model = nn.Sequential(nn.Flatten(), nn.Linear(36, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1), nn.Sigmoid())

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        return self.model(img)


class GAN(pl.LightningModule):
    def __init__(self, latent_dim: int = LATENT_DIM, lr: float = 0.01, b1: float = 0.5, b2: float = 0.999) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.generator = Generator(latent_dim)
        self.discriminator = Discriminator()
        self.validation_z = torch.randn(4, latent_dim)
        self.example_input_array = torch.zeros(2, latent_dim)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z)

    @staticmethod
    def adversarial_loss(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy(y_hat, y)

    def training_step(self, batch):
        imgs, _ = batch
        optimizer_g, optimizer_d = self.optimizers()
        z = torch.randn(imgs.shape[0], self.hparams.latent_dim).type_as(imgs)

        # Train the generator: make the discriminator call its images real.
        self.toggle_optimizer(optimizer_g)
        self.generated_imgs = self(z)
        valid = torch.ones(imgs.size(0), 1).type_as(imgs)
        g_loss = self.adversarial_loss(self.discriminator(self.generated_imgs), valid)
        self.log("g_loss", g_loss, prog_bar=True)
        self.manual_backward(g_loss)
        optimizer_g.step()
        optimizer_g.zero_grad()
        self.untoggle_optimizer(optimizer_g)

        # Train the discriminator: real images real, generated ones fake.
        self.toggle_optimizer(optimizer_d)
        real_loss = self.adversarial_loss(self.discriminator(imgs), valid)
        fake = torch.zeros(imgs.size(0), 1).type_as(imgs)
        fake_loss = self.adversarial_loss(self.discriminator(self(z).detach()), fake)
        d_loss = (real_loss + fake_loss) / 2
        self.log_dict({"d_loss": d_loss, "d_real": real_loss, "d_fake": fake_loss}, prog_bar=True)
        self.manual_backward(d_loss)
        optimizer_d.step()
        optimizer_d.zero_grad()
        self.untoggle_optimizer(optimizer_d)

    def validation_step(self, batch):
        imgs, _ = batch
        self.log("val_d_real", self.discriminator(imgs).mean())

    def on_validation_epoch_end(self):
        self.sample_imgs = self(self.validation_z.type_as(self.generator.model[0].weight))

    def configure_optimizers(self):
        lr, b1, b2 = self.hparams.lr, self.hparams.b1, self.hparams.b2
        opt_g = torch.optim.Adam(self.generator.parameters(), lr=lr, betas=(b1, b2))
        opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=lr, betas=(b1, b2))
        return [opt_g, opt_d], []


def image_loader(n: int = 16, seed: int = 0) -> DataLoader:
    g = torch.Generator().manual_seed(seed)
    imgs = torch.rand(n, *IMG_SHAPE, generator=g) * 2 - 1
    # The loader's own generator: starting an epoch does not draw from the global RNG the noise comes from.
    return DataLoader(TensorDataset(imgs, torch.zeros(n)), batch_size=4, generator=torch.Generator().manual_seed(seed))


def by_hand(model: GAN, loader: DataLoader, epochs: int) -> GAN:
    """The same updates without the Trainer."""
    opt_g = torch.optim.Adam(model.generator.parameters(), lr=0.01, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(model.discriminator.parameters(), lr=0.01, betas=(0.5, 0.999))
    for _ in range(epochs):
        for imgs, _ in loader:
            z = torch.randn(imgs.shape[0], LATENT_DIM)
            valid, fake = torch.ones(imgs.size(0), 1), torch.zeros(imgs.size(0), 1)
            opt_g.zero_grad()
            F.binary_cross_entropy(model.discriminator(model.generator(z)), valid).backward()
            opt_g.step()
            opt_d.zero_grad()
            real = F.binary_cross_entropy(model.discriminator(imgs), valid)
            fake_loss = F.binary_cross_entropy(model.discriminator(model.generator(z).detach()), fake)
            ((real + fake_loss) / 2).backward()
            opt_d.step()
    return model


def test_gan_trains_like_the_hand_written_loop(tmp_path):
    pl.seed_everything(0)
    model = GAN()
    initial = copy.deepcopy(model)
    trainer = pl.Trainer(max_epochs=2, default_root_dir=tmp_path, accelerator="cpu", logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=0)
    pl.seed_everything(1)
    trainer.fit(model, image_loader(), image_loader(8, seed=1))

    pl.seed_everything(1)
    expected = by_hand(initial, image_loader(), epochs=2)
    for a, b in zip(model.parameters(), expected.parameters()):
        torch.testing.assert_close(a, b)
    assert trainer.global_step == 2 * 2 * 4, "each opt.step() counts, two optimizers per batch"
    assert {"g_loss", "d_loss", "d_real", "d_fake", "val_d_real"} <= set(trainer.callback_metrics)
    assert all(p.requires_grad for p in model.parameters()), "untoggle_optimizer restored requires_grad"
    assert model.sample_imgs.shape == (4, *IMG_SHAPE)
