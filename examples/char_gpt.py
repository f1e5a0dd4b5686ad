"""A character-level GPT (ember.zoo.gpt, nanoGPT's layout) trained on a text every Python installation has --
the source code of the argparse module -- and then asked to write some more of it.

    python examples/char_gpt.py [--text FILE] [--steps 400] [--sample-chars 400]

nanoGPT's loop: random windows of the text as batches, AdamW with weight decay on the matrices, gradient clipping,
a cosine learning-rate schedule, and model.generate() with temperature and top-k sampling at the end.
"""
import argparse
import inspect
import math
import sys
import time

import numpy as np

import ember
from ember import zoo
from ember.nn.utils import clip_grad_norm_


def default_text():
    import argparse as module  # any pure-Python standard-library module will do; this one is ~100 KB
    return inspect.getsource(module)


def get_batch(ids, batch_size, seq_len, rng):
    """batch_size random windows: inputs and the same windows shifted by one character."""
    starts = rng.integers(0, len(ids) - seq_len - 1, size=batch_size)
    rows = ids[starts[:, None] + np.arange(seq_len + 1)]
    return ember.tensor(rows[:, :-1]), ember.tensor(rows[:, 1:])


@ember.no_grad()
def estimate_loss(model, ids, batch_size, seq_len, rng, batches=4):
    model.eval()
    losses = [model(*get_batch(ids, batch_size, seq_len, rng))[1].item() for _ in range(batches)]
    model.train()
    return sum(losses) / len(losses)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--text", help="a UTF-8 text file (default: the source of Python's argparse module)")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--n-layer", type=int, default=2)
    parser.add_argument("--n-head", type=int, default=4)
    parser.add_argument("--n-embd", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--sample-chars", type=int, default=400, help="characters to generate after training")
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    if args.text:
        with open(args.text, encoding="utf-8") as f:
            text = f.read()
    else:
        text = default_text()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    ids = np.array([stoi[c] for c in text], dtype=np.int64)
    split = int(0.9 * len(ids))
    train_ids, val_ids = ids[:split], ids[split:]
    if len(val_ids) <= args.seq_len + 1:
        parser.error(f"the text ({len(ids)} characters) is too short for --seq-len {args.seq_len}")
    print(f"text: {len(text):,} characters, {len(chars)} distinct")

    ember.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = zoo.gpt(vocab_size=len(chars), block_size=args.seq_len, n_layer=args.n_layer, n_head=args.n_head,
                    n_embd=args.n_embd)
    optimizer = model.configure_optimizers(weight_decay=0.1, learning_rate=args.lr, betas=(0.9, 0.95))
    print(f"model: {model.get_num_params():,} parameters")

    start = time.perf_counter()
    for step in range(args.steps):
        lr = args.lr * 0.5 * (1 + math.cos(math.pi * step / args.steps))  # cosine decay to 0
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = get_batch(train_ids, args.batch_size, args.seq_len, rng)
        _, loss = model(x, y)
        optimizer.zero_grad()
        loss.backward()
        clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if (step + 1) % args.eval_every == 0 or step + 1 == args.steps:
            val = estimate_loss(model, val_ids, args.batch_size, args.seq_len, rng)
            print(f"step {step + 1}/{args.steps}: train loss {loss.item():.3f}, val loss {val:.3f} "
                  f"({time.perf_counter() - start:.1f}s)", flush=True)

    model.eval()
    prompt = "def "
    idx = ember.tensor([[stoi[c] for c in prompt if c in stoi]], dtype=ember.int64)
    out = model.generate(idx, args.sample_chars, temperature=args.temperature, top_k=20)
    print("--- sample ---")
    print("".join(chars[i] for i in out[0].tolist()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
