"""A synthetic citation graph in Cora's file format (cora/cora.content: "<id> <binary features> <label>" per
node; cora/cora.cites: "<cited id> <citing id>" per edge): 7 classes, bag-of-words features whose word
probabilities depend on the class, and edges that mostly join nodes of one class (learnable by a GCN or a GAT)."""
import os

import numpy as np

CLASSES = ["Case_Based", "Genetic_Algorithms", "Neural_Networks", "Probabilistic_Methods",
           "Reinforcement_Learning", "Rule_Learning", "Theory"]


def write_cora(path, nodes=1800, features=64, edges=3000, seed=0):
    """Writes cora.content and cora.cites into path (created if missing) and returns path."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(CLASSES), nodes)
    word_probs = rng.uniform(0.01, 0.25, size=(len(CLASSES), features))
    words = (rng.random((nodes, features)) < word_probs[labels]).astype(int)
    ids = rng.choice(np.arange(10, 10 * nodes), size=nodes, replace=False)
    src = rng.integers(0, nodes, edges)
    same_class = [rng.choice(np.flatnonzero(labels == labels[s])) for s in src]
    dst = np.where(rng.random(edges) < 0.8, same_class, rng.integers(0, nodes, edges))
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "cora.content"), "w") as f:
        for i in range(nodes):
            f.write(f"{ids[i]}\t" + "\t".join(map(str, words[i])) + f"\t{CLASSES[labels[i]]}\n")
    with open(os.path.join(path, "cora.cites"), "w") as f:
        for s, d in zip(src, dst):
            f.write(f"{ids[s]}\t{ids[d]}\n")
    return path
