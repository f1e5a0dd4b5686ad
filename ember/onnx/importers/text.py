"""String and token ONNX ops (no gradient, NumPy): StringConcat, StringSplit, RegexFullMatch, TfIdfVectorizer."""
import re

import numpy as np

from .._registry import onnx_op
from .._values import to_numpy, to_value


def _strings(v):
    return np.asarray(to_numpy(v)).astype(str)


@onnx_op("StringConcat", since=20)
def string_concat(ctx, inputs, attrs):
    return np.char.add(_strings(inputs[0]), _strings(inputs[1])).astype(object)


@onnx_op("StringSplit", since=20)
def string_split(ctx, inputs, attrs):
    x = _strings(inputs[0])
    sep = attrs.get("delimiter") or None
    maxsplit = attrs.get("maxsplit")
    parts = [s.split(sep, maxsplit if maxsplit is not None else -1) for s in x.reshape(-1)]
    counts = np.array([len(p) for p in parts], dtype=np.int64).reshape(x.shape)
    width = max((len(p) for p in parts), default=0)
    out = np.array([p + [""] * (width - len(p)) for p in parts], dtype=object).reshape(x.shape + (width,))
    return out, to_value(counts)


@onnx_op("RegexFullMatch", since=20)
def regex_full_match(ctx, inputs, attrs):
    pattern = re.compile(attrs["pattern"])
    x = _strings(inputs[0])
    return to_value(np.vectorize(lambda s: pattern.fullmatch(s) is not None, otypes=[np.bool_])(x))


def _ngram_table(attrs):
    """{n-gram tuple: output column} for the pooled n-grams of the wanted lengths, and the set of their prefixes."""
    pool = attrs.get("pool_int64s") or attrs.get("pool_strings")
    counts, indexes = attrs["ngram_counts"], attrs["ngram_indexes"]
    lo, hi = attrs["min_gram_length"], attrs["max_gram_length"]
    table, prefixes, gram_id = {}, set(), 0
    for size, start in enumerate(counts, start=1):
        end = counts[size] if size < len(counts) else len(pool)
        for k in range(start, end, size):
            gram = tuple(pool[k:k + size])
            if lo <= size <= hi:
                table[gram] = indexes[gram_id]
                prefixes.update(gram[:j] for j in range(1, size + 1))
            gram_id += 1
    return table, prefixes


@onnx_op("TfIdfVectorizer", since=9)
def tfidf_vectorizer(ctx, inputs, attrs):
    x = np.asarray(to_numpy(inputs[0]))
    rows = x.reshape(1, -1) if x.ndim < 2 else x
    table, prefixes = _ngram_table(attrs)
    width = max(attrs["ngram_indexes"]) + 1
    lo, hi = attrs["min_gram_length"], attrs["max_gram_length"]
    freq = np.zeros((rows.shape[0], width), dtype=np.int64)
    for r, row in enumerate(rows.tolist()):
        start_size = lo
        for skip in range(1, attrs["max_skip_count"] + 2):
            for start in range(len(row)):
                if start + skip * (start_size - 1) >= len(row):
                    break
                gram = ()
                for item in range(start, len(row), skip):
                    gram += (row[item],)
                    if len(gram) > hi or gram not in prefixes:
                        break
                    if len(gram) >= start_size and gram in table:
                        freq[r, table[gram]] += 1
            if start_size == 1:  # unigrams are counted at the first skip distance only
                start_size += 1
                if start_size > hi:
                    break
    weights = np.asarray(attrs.get("weights") or [], dtype=np.float32)
    mode = attrs["mode"]
    if mode == "TF":
        out = freq.astype(np.float32)
    elif mode == "IDF":
        out = np.where(freq > 0, weights if weights.size else 1.0, 0.0).astype(np.float32)
    else:
        out = (freq * (weights if weights.size else 1.0)).astype(np.float32)
    return to_value(out.reshape(-1) if x.ndim < 2 else out)
