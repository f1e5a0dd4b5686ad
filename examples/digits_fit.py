"""The digits CNN again, trained with one call: Trainer.fit with a validation split, callbacks (early stopping,
checkpoints, a CSV log) and then evaluate / predict -- Keras' workflow over ember's own loop.

    python examples/digits_fit.py [--epochs 30] [--limit N] [--out runs/digits_fit]
"""
import argparse
import os
import sys
import tempfile

import ember
from ember import nn, optim
from ember.data import random_split, Subset, datasets
from ember.train import CSVLogger, EarlyStopping, ModelCheckpoint, Trainer


def make_model():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(128, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 10))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=30, help="at most this many (early stopping may end sooner)")
    parser.add_argument("--limit", type=int, help="use the first N training images only (quick runs)")
    parser.add_argument("--out", help="where checkpoints and the CSV log go (default: a temporary directory)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    ember.manual_seed(args.seed)
    full, test = datasets.Digits(train=True), datasets.Digits(train=False)
    if args.limit:
        full = Subset(full, range(min(args.limit, len(full))))
    train, val = random_split(full, [0.9, 0.1])

    model = make_model()
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=2e-3), nn.CrossEntropyLoss(),
                      metrics=["accuracy"])
    out = args.out or tempfile.mkdtemp(prefix="digits_fit-")
    history = trainer.fit(train, epochs=args.epochs, val=val, batch_size=32, verbose=2, callbacks=[
        EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True, verbose=1),
        ModelCheckpoint(dirpath=out),
        CSVLogger(os.path.join(out, "metrics.csv")),
    ])
    print(f"trained {len(history)} epochs; best val_loss {min(history['val_loss']):.4f}; files in {out}")

    results = trainer.evaluate(test)
    print("test: " + " ".join(f"{k} {v:.4f}" for k, v in results.items()))
    logits = trainer.predict(test.data[:8])  # arrays work too: (N, 1, 8, 8)
    print("first predictions:", logits.argmax(dim=1).tolist(), "labels:", test.targets[:8].tolist())
    return 0


if __name__ == "__main__":
    sys.exit(main())
