"""Language modelling with Lightning's demo Transformer and WikiText2 dataset, the shape of the
"Lightning in 2 steps" and Fabric/Trainer comparison examples. No network: the program writes
its own small ``data/wikitext-2.txt`` first and passes ``download=False``."""
import json
import random
from pathlib import Path

import lightning.pytorch as L
import torch
import torch.nn.functional as F
from lightning.pytorch.demos import Transformer, WikiText2
from torch.utils.data import DataLoader, random_split


def write_corpus(path):
    rng = random.Random(0)
    words = [f"w{i}" for i in range(60)]
    lines = []
    for _ in range(120):
        lines.append(" ".join(rng.choice(words[: rng.randint(10, 60)]) for _ in range(rng.randint(5, 15))))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


class LanguageModel(L.LightningModule):
    def __init__(self, vocab_size):
        super().__init__()
        self.model = Transformer(vocab_size=vocab_size, ninp=32, nhead=2, nhid=64, nlayers=1, dropout=0.0)

    def training_step(self, batch, batch_idx):
        input, target = batch
        output = self.model(input, target)
        loss = F.nll_loss(output, target.view(-1))
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        input, target = batch
        self.log("val_loss", F.nll_loss(self.model(input, target), target.view(-1)))

    def configure_optimizers(self):
        return torch.optim.SGD(self.model.parameters(), lr=0.1)


if __name__ == "__main__":
    L.seed_everything(42)
    data_dir = Path("data")
    write_corpus(data_dir / "wikitext-2.txt")
    dataset = WikiText2(data_dir=data_dir, block_size=16, download=False)
    n_val = len(dataset) // 5
    train, val = random_split(dataset, [len(dataset) - n_val, n_val], generator=torch.Generator().manual_seed(0))
    model = LanguageModel(vocab_size=dataset.vocab_size)
    trainer = L.Trainer(max_epochs=2, limit_train_batches=20, gradient_clip_val=0.25, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False)
    trainer.fit(model, DataLoader(train, batch_size=8, shuffle=True), DataLoader(val, batch_size=8))
    print("RESULT " + json.dumps({
        "vocab_size": dataset.vocab_size,
        "dataset_len": len(dataset),
        "sample_shapes": [list(t.shape) for t in dataset[0]],
        "global_step": trainer.global_step,
        "train_loss": trainer.callback_metrics["train_loss"].item(),
        "val_loss": trainer.callback_metrics["val_loss"].item(),
    }))
