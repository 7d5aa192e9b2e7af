"""Train a small MLP on scikit-learn's bundled digits with PyTorch, logging to Runyard.

    python examples/pytorch_digits.py --epochs 5 --hidden 128
Works offline too: RUNYARD_MODE=offline python examples/pytorch_digits.py, then `runyard sync`.
"""

from __future__ import annotations

import argparse

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

import runyard


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--project", default="digits-torch")
    args = ap.parse_args()

    digits = load_digits()
    x = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    y = torch.tensor(digits.target)
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.2, random_state=0)

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, args.hidden), nn.ReLU(), nn.Linear(args.hidden, 10))
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()

    with runyard.init(project=args.project, config=vars(args)) as run:
        runyard.watch(model, log="all", log_freq=20)
        step = 0
        for epoch in range(args.epochs):
            model.train()
            for i in range(0, len(x_train), 64):
                xb, yb = x_train[i : i + 64], y_train[i : i + 64]
                opt.zero_grad()
                loss = loss_fn(model(xb), yb)
                loss.backward()
                opt.step()
                run.log({"train/loss": loss.item(), "epoch": epoch}, step=step)
                step += 1
            model.eval()
            with torch.no_grad():
                logits = model(x_val)
                val_loss = loss_fn(logits, y_val).item()
                acc = (logits.argmax(1) == y_val).float().mean().item()
            run.log({"val/loss": val_loss, "val/accuracy": acc}, step=step)
            images = [
                runyard.Image(x_val[j].reshape(8, 8).numpy(), caption=f"pred: {int(logits[j].argmax())} / true: {int(y_val[j])}")
                for j in range(8)
            ]
            run.log({"examples": images}, step=step)
            print(f"epoch {epoch}: val_loss={val_loss:.4f} val_acc={acc:.3f}")
        run.summary["best_val_accuracy"] = acc


if __name__ == "__main__":
    main()
