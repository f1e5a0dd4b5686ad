"""ai.onnx.ml ops: Binarizer, ArrayFeatureExtractor (a gather on the last axis, differentiable for floats),
LabelEncoder (a dictionary lookup) and TreeEnsemble (decision trees: NumPy, no gradient)."""
import numpy as np

from ...tensor import Tensor
from .._registry import onnx_op
from .._values import to_numpy, to_value
from ._util import float_path

_ML = "ai.onnx.ml"


@onnx_op("Binarizer", since=1, domain=_ML)
def binarizer(ctx, inputs, attrs):
    a = to_numpy(inputs[0])
    return to_value((a > attrs.get("threshold", 0.0)).astype(a.dtype))


@onnx_op("ArrayFeatureExtractor", since=1, domain=_ML)
def array_feature_extractor(ctx, inputs, attrs):
    x, idx = inputs
    index = np.asarray(to_numpy(idx)).astype(np.int64).reshape(-1)
    shape = (1, index.size) if len(x.shape) == 1 else tuple(x.shape[:-1]) + (index.size,)
    if float_path(x) and isinstance(x, Tensor):
        return x[..., to_value(index)].reshape(shape)
    return to_value(to_numpy(x)[..., index].reshape(shape))


@onnx_op("LabelEncoder", since=(1, 2, 4), domain=_ML)
def label_encoder(ctx, inputs, attrs):
    keys = next(attrs[k] for k in ("keys_floats", "keys_int64s", "keys_strings", "keys_tensor") if k in attrs)
    for name, dtype, default in (("values_floats", np.float32, attrs.get("default_float", -0.0)),
                                 ("values_int64s", np.int64, attrs.get("default_int64", -1)),
                                 ("values_strings", object, attrs.get("default_string", "_Unused"))):
        if name in attrs:
            values = attrs[name]
            break
    else:
        values = to_numpy(attrs["values_tensor"])
        dtype = values.dtype
        default = to_numpy(attrs["default_tensor"]).reshape(-1)[0] if "default_tensor" in attrs else \
            ("_Unused" if dtype == object else (-1 if dtype.kind in "iu" else -0.0))
    keys = to_numpy(keys).reshape(-1).tolist() if not isinstance(keys, list) else keys
    values = np.asarray(values).reshape(-1).tolist()
    table = dict(zip(keys, values))
    x = np.asarray(to_numpy(inputs[0]))
    out = np.array([table.get(v, default) for v in x.reshape(-1).tolist()], dtype=dtype).reshape(x.shape)
    return to_value(out)


_COMPARE = [np.less_equal, np.less, np.greater_equal, np.greater, np.equal, np.not_equal]


@onnx_op("TreeEnsemble", since=5, domain=_ML)
def tree_ensemble(ctx, inputs, attrs):
    x = np.asarray(to_numpy(inputs[0]))
    splits = np.asarray(to_numpy(attrs["nodes_splits"])).astype(np.float64)
    features, modes = attrs["nodes_featureids"], attrs["nodes_modes"]
    modes = np.asarray(to_numpy(modes)).reshape(-1).tolist() if not isinstance(modes, list) else modes
    true_ids, false_ids = attrs["nodes_truenodeids"], attrs["nodes_falsenodeids"]
    true_leaf, false_leaf = attrs["nodes_trueleafs"], attrs["nodes_falseleafs"]
    missing = attrs.get("nodes_missing_value_tracks_true") or [0] * len(features)
    leaf_w = np.asarray(to_numpy(attrs["leaf_weights"])).astype(np.float64)
    leaf_t = attrs["leaf_targetids"]
    members, it = {}, iter(np.asarray(to_numpy(attrs["membership_values"])).reshape(-1).tolist()
                           if "membership_values" in attrs else [])
    for i, mode in enumerate(modes):  # set-membership nodes take the next NaN-terminated run of values
        if mode == 6:
            vals = []
            for v in it:
                if np.isnan(v):
                    break
                vals.append(v)
            members[i] = set(vals)
    agg = attrs.get("aggregate_function", 1)
    n_targets = attrs["n_targets"]
    init = {0: 0.0, 1: 0.0, 2: np.finfo(x.dtype).max, 3: np.finfo(x.dtype).min}[agg]
    out = np.full((x.shape[0], n_targets), init, dtype=np.float64)
    roots = attrs["tree_roots"]
    for r, row in enumerate(x):
        for root in roots:
            node, is_leaf = root, bool(true_leaf[root] and false_leaf[root] and true_ids[root] == false_ids[root])
            while not is_leaf:
                v = row[features[node]]
                if modes[node] == 6:
                    go = v in members[node]
                else:
                    go = bool(_COMPARE[modes[node]](v, splits[node]))
                go = go or (bool(missing[node]) and np.isnan(v))
                node, is_leaf = (true_ids[node], true_leaf[node]) if go else (false_ids[node], false_leaf[node])
            w, t = leaf_w[node], leaf_t[node]
            if agg == 1:
                out[r, t] += w
            elif agg == 0:
                out[r, t] += w / len(roots)
            elif agg == 2:
                out[r, t] = min(out[r, t], w)
            else:
                out[r, t] = max(out[r, t], w)
    return to_value(out.astype(x.dtype))
