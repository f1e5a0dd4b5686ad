"""LeNet-5 on MNIST (or Fashion-MNIST) with Trainer.fit: about 99% test accuracy on MNIST in a few epochs.

    python examples/mnist.py [--dataset FashionMNIST] [--epochs 5] [--limit N]

The four files are read from $EMBER_DATA/MNIST (or ~/.cache/ember/MNIST) and downloaded there (SHA-256 checked)
when missing. Without them and without a network, the script says where to put them and exits with status 1.
"""
import argparse
import sys

import ember
from ember import nn, optim, zoo
from ember.data import DataLoader, Subset, datasets, transforms
from ember.train import Trainer


def load(name, train, download):
    cls = getattr(datasets, name)
    mean, std = (0.1307, 0.3081) if name == "MNIST" else (0.2860, 0.3530)
    return cls(train=train, download=download, transform=transforms.Normalize([mean], [std]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=["MNIST", "FashionMNIST"], default="MNIST")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--limit", type=int, help="use the first N training and test images only (quick runs)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--no-download", action="store_true", help="only read files that are already there")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    try:
        train = load(args.dataset, True, not args.no_download)
        test = load(args.dataset, False, not args.no_download)
    except RuntimeError as e:
        print(f"{args.dataset} is not available here: {e}\n\nDownload it on a machine with internet access "
              f"(python examples/mnist.py once, or ember.data.datasets.{args.dataset}(download=True)) and copy "
              f"the folder {datasets.data_root()}/{args.dataset} over, or set EMBER_DATA "
              "to the directory that holds it.", file=sys.stderr)
        return 1
    if args.limit:
        train = Subset(train, range(min(args.limit, len(train))))
        test = Subset(test, range(min(args.limit, len(test))))

    ember.manual_seed(args.seed)
    model = zoo.lenet5(num_classes=10)
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.3)
    trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(), metrics=["accuracy"], scheduler=scheduler)
    trainer.fit(DataLoader(train, batch_size=args.batch_size, shuffle=True), epochs=args.epochs, verbose=2)
    results = trainer.evaluate(DataLoader(test, batch_size=256))
    print("test: " + " ".join(f"{k} {v:.4f}" for k, v in results.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
