"""Config files: YAML in and out (JSON without PyYAML), loading a file, and ``--set`` overrides."""
import copy
import functools
import json
import os
import re

from .schema import ConfigError, kind

MAX_CONFIG_BYTES = 1 << 20  # a config is a page of YAML; a larger file is not one


# --- YAML --------------------------------------------------------------------------------------------------------
def _yaml():
    try:
        import yaml
    except ImportError:
        raise ConfigError("config files need PyYAML, which is not installed: pip install pyyaml") from None
    return yaml


@functools.lru_cache(maxsize=None)
def _loader():
    """PyYAML's SafeLoader, also reading YAML 1.2 floats such as 1e-3 (PyYAML reads them as strings)."""
    yaml = _yaml()

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                    |[-+]?\.(?:inf|Inf|INF)
                    |\.(?:nan|NaN|NAN))$""", re.X),
        list("-+0123456789."))
    return Loader


def _have_yaml():
    try:
        import yaml  # noqa: F401
    except ImportError:
        return False
    return True


def parse_yaml(text, src):
    """Parse YAML text; syntax errors become ConfigErrors that name src and the line.

    Without PyYAML, JSON (a subset of YAML, which dump_yaml then writes) is still read."""
    if not _have_yaml():
        try:
            return json.loads(text)
        except ValueError:
            pass
    yaml = _yaml()
    try:
        return yaml.load(text, Loader=_loader())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"{src}: not valid YAML{where}: {problem}") from None


def dump_yaml(cfg):
    """YAML text of a config, with each layer's arguments on one line (``- Conv2d: [1, 16, 3, {padding: 1}]``).

    Without PyYAML the config is written as JSON, which is valid YAML, so a plain `pip install .` can train."""
    if not _have_yaml():
        return json.dumps(cfg, indent=2) + "\n"
    yaml = _yaml()

    def flat(v):
        if isinstance(v, dict):
            return all(flat(x) and not isinstance(x, (dict, list)) for x in v.values())
        if isinstance(v, list):
            return all(not isinstance(x, (dict, list)) for x in v)
        return True

    class Dumper(yaml.SafeDumper):
        def represent_list(self, data):
            flow = all(flat(x) for x in data)
            return self.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)

        def represent_dict(self, data):
            flow = len(data) > 1 and flat(data)
            return self.represent_mapping("tag:yaml.org,2002:map", data, flow_style=flow)

    Dumper.add_representer(list, Dumper.represent_list)
    Dumper.add_representer(dict, Dumper.represent_dict)
    return yaml.dump(cfg, Dumper=Dumper, sort_keys=False, default_flow_style=None, width=120)


def load_config(path):
    """The raw mapping in a YAML config file (a directory means its config.yaml, as a run directory holds)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, "config.yaml")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)  # bounded: a device file such as /dev/zero never ends
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the config file ({e.strerror})") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: too large for a config file (over {MAX_CONFIG_BYTES >> 20} MiB)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not a text config file (byte 0x{data[e.start]:02x} at offset {e.start} is not "
                          "UTF-8)") from None
    raw = parse_yaml(text, path)
    if raw is None:
        raise ConfigError(f"{path}: the file is empty (expected a mapping with at least: model, data)")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys (model, data, ...) at top level, got {kind(raw)}")
    return raw


def apply_overrides(cfg, assignments, src="config"):
    """Apply ``key.sub=value`` strings (values parsed as YAML scalars) to a copy of cfg; list items by index."""
    cfg = copy.deepcopy(cfg)
    for text in assignments or ():
        key, sep, value = text.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {text!r}: expected key=value, e.g. --set optimizer.lr=0.01")
        parts = key.split(".")
        node = cfg
        for i, part in enumerate(parts[:-1]):
            node = _child(node, part, ".".join(parts[:i + 1]), create=True)
        last = parts[-1]
        parsed = parse_yaml(value, f"--set {key}") if value.strip() else None
        if isinstance(node, list):
            node[_index(node, last, key)] = parsed
        elif isinstance(node, dict):
            node[last] = parsed
        else:
            raise ConfigError(f"--set {key}: {'.'.join(parts[:-1])} is {kind(node)}, not a mapping")
    return cfg


def _child(node, part, where, create):
    if isinstance(node, list):
        return node[_index(node, part, where)]
    if not isinstance(node, dict):
        raise ConfigError(f"--set {where}: cannot go into {kind(node)}")
    if part not in node or node[part] is None:
        if not create:
            raise KeyError(part)
        node[part] = {}
    return node[part]


def _index(node, part, key):
    try:
        i = int(part)
        node[i]  # noqa: B018 - bounds check
        return i
    except (ValueError, IndexError):
        raise ConfigError(f"--set {key}: {part!r} is not an index of a list of {len(node)} items") from None


