"""Synthetic stand-ins for the data files that the gh_* programs read, written in the programs' own formats.

Each writer takes the run's working directory. The data are small, drawn from fixed seeds (so every run and both
frameworks see the same files) and have structure a model can learn within a few steps, so that a training loss
falls: words made of a few syllables, sentences of a small grammar, names whose letters depend on their language.
"""
import pickle

import numpy as np

_SYLLABLES = ["ka", "ri", "mo", "lu", "sa", "ne", "to", "vi", "da", "el"]


def _words(rng, n, syllables=_SYLLABLES, lengths=(1, 2, 3)):
    return ["".join(rng.choice(syllables, size=rng.choice(lengths))) for _ in range(n)]


def _sentences(rng, n):
    subjects, verbs, objects = ["the cat", "a dog", "my friend", "we"], ["sees", "likes", "takes"], \
        ["the ball", "a tree", "some milk", "the house"]
    return [f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)} ." for _ in range(n)]


def shakespeare_char(directory, n_chars=4000):
    """nanoGPT's data/shakespeare_char: train.bin / val.bin (uint16 token ids) and meta.pkl (vocab_size, itos,
    stoi), of a character-level text of simple sentences."""
    rng = np.random.default_rng(0)
    text = "\n".join(_sentences(rng, n_chars // 16))[:n_chars]
    chars = sorted(set(text))
    stoi, itos = {ch: i for i, ch in enumerate(chars)}, dict(enumerate(chars))
    ids = np.array([stoi[c] for c in text], dtype=np.uint16)
    out = directory / "data" / "shakespeare_char"
    out.mkdir(parents=True)
    split = int(0.9 * len(ids))
    ids[:split].tofile(out / "train.bin")
    ids[split:].tofile(out / "val.bin")
    with open(out / "meta.pkl", "wb") as f:
        pickle.dump({"vocab_size": len(chars), "itos": itos, "stoi": stoi}, f)


def names(directory, n=300):
    """makemore's input: names.txt, one word per line."""
    rng = np.random.default_rng(1)
    (directory / "names.txt").write_text("\n".join(_words(rng, n)) + "\n")


_LANGUAGE_SYLLABLES = {  # the last letters tell the language apart, as endings do in real names
    "Italian": ["ri", "ti", "no", "lo", "ci", "ni", "belli", "sso"],
    "German": ["schn", "mann", "berg", "er", "hofer", "stern", "ker", "lln"],
    "Japanese": ["ka", "shu", "ta", "mu", "ta", "ya", "ku", "su"],
    "Czech": ["dvy", "ak", "sky", "chk", "zk", "ek", "ny", "rsk"],
}


def name_languages(directory, per_language=40):
    """The char-RNN tutorial's data/names/<Language>.txt: capitalised names, a syllable set per language."""
    rng = np.random.default_rng(2)
    out = directory / "data" / "names"
    out.mkdir(parents=True)
    for language, syllables in _LANGUAGE_SYLLABLES.items():
        words = [w.capitalize() for w in _words(rng, per_language, syllables, lengths=(2, 3))]
        (out / f"{language}.txt").write_text("\n".join(words) + "\n", encoding="utf-8")


# English -> "French" word for word, so that translation is learnable; the French words of the sentences that the
# tutorial evaluates (with their real English translations) are in the file too.
_ENG_FRA = {"i": "je", "am": "suis", "he": "il", "is": "est", "she": "elle", "you": "vous", "are": "etes",
            "we": "nous", "they": "ils", "happy": "content", "tired": "fatigue", "cold": "froid", "ready": "pret",
            "here": "ici", "very": "tres", "not": "pas", ".": "."}
_TUTORIAL_PAIRS = [("I'm too cold.", "Je suis trop froid."),
                   ("She is five years younger than me.", "Elle a cinq ans de moins que moi."),
                   ("She's too short.", "Elle est trop petit."),
                   ("I'm not scared to die.", "Je ne crains pas de mourir."),
                   ("He's a talented young director.", "C'est un jeune directeur plein de talent.")]


def eng_fra(directory, n=120):
    """The seq2seq tutorial's data/eng-fra.txt: tab-separated English and French sentences."""
    rng = np.random.default_rng(3)
    subjects = [("i", "am"), ("he", "is"), ("she", "is"), ("you", "are"), ("we", "are"), ("they", "are")]
    lines = [f"{e}\t{f}" for e, f in _TUTORIAL_PAIRS]
    for _ in range(n):
        s, v = subjects[rng.integers(len(subjects))]
        rest = list(rng.choice(["very", "not"], size=rng.integers(0, 2))) + [rng.choice(
            ["happy", "tired", "cold", "ready", "here"])]
        english = [s, v, *rest, "."]
        lines.append(" ".join(english) + "\t" + " ".join(_ENG_FRA[w] for w in english))
    (directory / "data").mkdir(exist_ok=True)
    (directory / "data" / "eng-fra.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def ptb_like(directory, n_lines=60):
    """The language-model tutorial's data/train.txt: lines of space-separated words (Penn Treebank's format)."""
    rng = np.random.default_rng(4)
    (directory / "data").mkdir(exist_ok=True)
    (directory / "data" / "train.txt").write_text("\n".join(" " + s for s in _sentences(rng, n_lines)) + "\n")
