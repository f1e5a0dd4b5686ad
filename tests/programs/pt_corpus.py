"""A small synthetic text corpus in word_language_model's layout (train.txt, valid.txt, test.txt): sentences from
a fixed Markov chain over a 40-word vocabulary, where each word has three likely successors (learnable)."""
import os

import numpy as np


def _sentences(rng, successors, n):
    lines = []
    for _ in range(n):
        word = rng.integers(len(successors))
        words = [word]
        for _ in range(rng.integers(4, 12)):
            word = successors[word][rng.integers(3)]
            words.append(word)
        lines.append(" ".join(f"w{w}" for w in words))
    return lines


def write_corpus(path, train_lines=300, eval_lines=40, seed=0):
    """Writes the three files into path (created if missing) and returns path."""
    rng = np.random.default_rng(seed)
    successors = rng.integers(0, 40, size=(40, 3))
    os.makedirs(path, exist_ok=True)
    for name, n in (("train", train_lines), ("valid", eval_lines), ("test", eval_lines)):
        with open(os.path.join(path, f"{name}.txt"), "w", encoding="utf8") as f:
            f.write("\n".join(_sentences(rng, successors, n)) + "\n")
    return path
