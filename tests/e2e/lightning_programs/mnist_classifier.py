"""An MNIST-style classifier: torchmetrics Accuracy logged as an object, EarlyStopping,
LearningRateMonitor and ModelCheckpoint, the shape of countless "Lightning in 15 minutes" scripts.
The images are small synthetic 8x8 digits so the program needs no download."""
import json
import os

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from pytorch_lightning.callbacks import EarlyStopping, LearningRateMonitor, ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchmetrics import Accuracy


def make_digits(n, generator):
    prototypes = torch.randn(10, 64, generator=torch.Generator().manual_seed(0))
    labels = torch.randint(0, 10, (n,), generator=generator)
    images = prototypes[labels] + 1.5 * torch.randn(n, 64, generator=generator)
    return TensorDataset(images.view(n, 1, 8, 8), labels)


class LitMNIST(pl.LightningModule):
    def __init__(self, hidden_size=32, learning_rate=0.05):
        super().__init__()
        self.save_hyperparameters()
        self.model = nn.Sequential(
            nn.Flatten(), nn.Linear(64, hidden_size), nn.ReLU(), nn.Dropout(0.1), nn.Linear(hidden_size, 10)
        )
        self.val_accuracy = Accuracy(task="multiclass", num_classes=10)
        self.test_accuracy = Accuracy(task="multiclass", num_classes=10)

    def forward(self, x):
        return F.log_softmax(self.model(x), dim=1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.nll_loss(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        loss = F.nll_loss(logits, y)
        preds = torch.argmax(logits, dim=1)
        self.val_accuracy.update(preds, y)
        self.log("val_loss", loss, prog_bar=True)
        self.log("val_acc", self.val_accuracy, prog_bar=True)

    def test_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.test_accuracy.update(torch.argmax(logits, dim=1), y)
        self.log("test_loss", F.nll_loss(logits, y))
        self.log("test_acc", self.test_accuracy)

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=self.hparams.learning_rate, momentum=0.9)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
        return [optimizer], [scheduler]


def main():
    pl.seed_everything(1234)
    g = torch.Generator().manual_seed(1)
    train_loader = DataLoader(make_digits(512, g), batch_size=64, shuffle=True)
    val_loader = DataLoader(make_digits(256, g), batch_size=128)
    test_loader = DataLoader(make_digits(256, g), batch_size=128)

    checkpoint = ModelCheckpoint(dirpath="checkpoints", monitor="val_acc", mode="max", save_top_k=2,
                                 filename="mnist-{epoch:02d}-{val_acc:.2f}")
    early_stopping = EarlyStopping(monitor="val_loss", patience=1, min_delta=0.05, mode="min")
    lr_monitor = LearningRateMonitor(logging_interval="epoch")
    trainer = pl.Trainer(
        max_epochs=12,
        accelerator="cpu",
        devices=1,
        logger=CSVLogger(save_dir="logs", name="mnist"),
        callbacks=[checkpoint, early_stopping, lr_monitor],
        enable_progress_bar=False,
    )
    model = LitMNIST()
    trainer.fit(model, train_loader, val_loader)
    test = trainer.test(ckpt_path="best", dataloaders=test_loader)
    return {
        "current_epoch": trainer.current_epoch,
        "global_step": trainer.global_step,
        "stopped_epoch": early_stopping.stopped_epoch,
        "should_stop": trainer.should_stop,
        "best_model_score": float(checkpoint.best_model_score),
        "best_model_path": os.path.basename(checkpoint.best_model_path),
        "saved_checkpoints": sorted(os.listdir("checkpoints")),
        "test_acc": test[0]["test_acc"],
        "test_loss": test[0]["test_loss"],
        "final_lr": trainer.optimizers[0].param_groups[0]["lr"],
        "lr_monitor_columns": sorted(c for c in open(os.path.join(trainer.logger.log_dir, "metrics.csv"))
                                     .readline().strip().split(",") if c.startswith("lr")),
        "hparams": dict(model.hparams),
    }


if __name__ == "__main__":
    print("RESULT " + json.dumps(main()))
