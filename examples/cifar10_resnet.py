"""ResNet-20 on CIFAR-10 with the standard recipe: random crops of the padded image and horizontal flips, SGD with
Nesterov momentum and weight decay, a one-cycle learning rate. About 90% test accuracy after 30 epochs.

    python examples/cifar10_resnet.py [--epochs 30] [--limit N] [--num-workers 2]

The binary archive is read from $EMBER_DATA/CIFAR10 (or ~/.cache/ember/CIFAR10) and downloaded there (SHA-256
checked) when missing. Without it and without a network, the script says where to put it and exits with status 1.
"""
import argparse
import sys

import ember
from ember import nn, optim, zoo
from ember.data import DataLoader, Subset, datasets, transforms
from ember.train import Trainer

MEAN, STD = [0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--limit", type=int, help="use the first N training and test images only (quick runs)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.1, help="the peak learning rate")
    parser.add_argument("--depth", type=int, default=20, help="6n+2: 8, 20, 32, 44, 56")
    parser.add_argument("--num-workers", type=int, default=0, help="processes preparing batches")
    parser.add_argument("--no-download", action="store_true", help="only read files that are already there")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    augment = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(),
                                  transforms.Normalize(MEAN, STD)])
    try:
        train = datasets.CIFAR10(train=True, transform=augment, download=not args.no_download)
        test = datasets.CIFAR10(train=False, transform=transforms.Normalize(MEAN, STD),
                                download=not args.no_download)
    except RuntimeError as e:
        print(f"CIFAR-10 is not available here: {e}\n\nDownload it on a machine with internet access "
              "(python examples/cifar10_resnet.py once, or ember.data.datasets.CIFAR10(download=True)) and copy "
              f"{datasets.data_root()}/CIFAR10/cifar-10-binary.tar.gz over, or set EMBER_DATA to the directory "
              "that holds CIFAR10/.", file=sys.stderr)
        return 1
    if args.limit:
        train = Subset(train, range(min(args.limit, len(train))))
        test = Subset(test, range(min(args.limit, len(test))))

    ember.manual_seed(args.seed)
    model = zoo.get_model(f"resnet{args.depth}", num_classes=10)
    loader = DataLoader(train, batch_size=args.batch_size, shuffle=True, num_workers=args.num_workers)
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4, nesterov=True)
    scheduler = optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, epochs=max(args.epochs, 1),
                                              steps_per_epoch=len(loader))
    trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(), metrics=["accuracy"], scheduler=scheduler,
                      scheduler_interval="step")
    print(f"resnet{args.depth}: {sum(p.numel() for p in model.parameters()):,} parameters; "
          f"{len(train):,} training images")
    trainer.fit(loader, epochs=args.epochs, verbose=2)
    results = trainer.evaluate(DataLoader(test, batch_size=256))
    print("test: " + " ".join(f"{k} {v:.4f}" for k, v in results.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
