"""The `ember` command line."""
import argparse
import sys


def _info(args):
    """Print the version, NumPy and its BLAS, devices, and which optional packages are installed."""
    import importlib.util

    import numpy as np

    import ember
    from ember.device import cuda_available

    print(f"ember {ember.__version__}")
    print(f"python {sys.version.split()[0]}")
    print(f"numpy {np.__version__} (BLAS: {_blas_name()})")
    devices = ["cpu"]
    if cuda_available():
        import cupy
        devices += [f"cuda:{i}" for i in range(cupy.cuda.runtime.getDeviceCount())]
    print("devices: " + ", ".join(devices))
    optional = ["ml_dtypes", "cupy", "safetensors", "yaml", "tqdm", "matplotlib", "onnx", "onnxruntime", "mpi4py",
                "torch"]
    found = [name for name in optional if importlib.util.find_spec(name) is not None]
    missing = [name for name in optional if name not in found]
    print("optional packages found: " + (", ".join(found) or "none"))
    print("optional packages missing: " + (", ".join(missing) or "none"))
    return 0


def _blas_name():
    import numpy as np
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # older NumPy: no dict mode
        return "unknown"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="ember", description="ember: deep learning you can read end to end")
    sub = parser.add_subparsers(dest="command", required=True)
    p_info = sub.add_parser("info", help="version, NumPy/BLAS, devices and optional packages")
    p_info.set_defaults(func=_info)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
