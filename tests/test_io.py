"""save/load in the safetensors format, interoperability with safetensors/PyTorch, and atomic checkpoints."""
import json
import os
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ember


def test_round_trip_state_dict_keeps_dtypes_shapes_and_values(tmp_path):
    sd = {"w": ember.randn(3, 4), "b": ember.arange(5), "m": ember.tensor([True, False]),
          "h": ember.randn(2, dtype=ember.float64), "x16": ember.randn(2, 2).half()}
    path = tmp_path / "sd.safetensors"
    ember.save(sd, path)
    back = ember.load(path)
    assert list(back) == list(sd)
    for k in sd:
        assert back[k].dtype is sd[k].dtype
        np.testing.assert_array_equal(back[k].numpy(), sd[k].numpy())


def test_nested_objects_round_trip(tmp_path):
    obj = {"model": {"0.weight": ember.ones(2, 2)}, "state": {0: {"step": 3, "exp_avg": ember.zeros(2)}},
           "groups": [{"lr": 0.1, "betas": (0.9, 0.99), "params": [0, 1]}], "epoch": 7, "name": "run", "none": None}
    path = tmp_path / "ck.safetensors"
    ember.save(obj, path)
    back = ember.load(path)
    assert back["epoch"] == 7 and back["name"] == "run" and back["none"] is None
    assert back["groups"][0]["betas"] == (0.9, 0.99)
    assert set(back["state"]) == {0} and back["state"][0]["step"] == 3
    np.testing.assert_array_equal(back["model"]["0.weight"].numpy(), np.ones((2, 2), np.float32))


def test_unsupported_object_is_a_clear_error(tmp_path):
    with pytest.raises(TypeError, match="save: cannot store an object of type object"):
        ember.save({"x": object()}, tmp_path / "bad.safetensors")
    assert not (tmp_path / "bad.safetensors").exists()


def test_loading_never_unpickles(tmp_path):
    """A pickle file (what torch.save writes) is rejected as not-safetensors, and nothing in it runs."""
    import pickle
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ValueError, match="not a safetensors file|corrupt"):
        ember.load(path)
    assert not marker.exists()


def test_corrupt_header_offsets_are_rejected(tmp_path):
    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 100]}}).encode()
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 16)
    with pytest.raises(ValueError, match="inconsistent offsets"):
        ember.load(path)


def test_files_interoperate_with_safetensors_numpy(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "a.safetensors"
    ember.save({"w": ember.randn(2, 3)}, path)
    assert st.load_file(str(path))["w"].shape == (2, 3)
    st.save_file({"v": np.arange(6, dtype=np.int32).reshape(2, 3)}, str(tmp_path / "b.safetensors"))
    back = ember.load(tmp_path / "b.safetensors")
    assert back["v"].dtype is ember.int32 and back["v"].tolist() == [[0, 1, 2], [3, 4, 5]]


def test_pytorch_state_dict_loads_into_ember_module_and_back(tmp_path, torch):
    st = pytest.importorskip("safetensors.torch")
    tmodel = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    st.save_file(tmodel.state_dict(), str(tmp_path / "t.safetensors"))
    emodel = ember.nn.Sequential(ember.nn.Linear(4, 8), ember.nn.ReLU(), ember.nn.Linear(8, 3))
    emodel.load_state_dict(ember.load(tmp_path / "t.safetensors"))
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(emodel(ember.tensor(x)).detach().numpy(), tmodel(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    ember.save(emodel.state_dict(), tmp_path / "e.safetensors")
    tmodel2 = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    tmodel2.load_state_dict(st.load_file(str(tmp_path / "e.safetensors")))
    for a, b in zip(tmodel.parameters(), tmodel2.parameters()):
        assert torch.equal(a, b)


def test_load_state_dict_names_shape_mismatches(tmp_path):
    model = ember.nn.Linear(4, 2)
    ember.save({"weight": ember.zeros(2, 5), "bias": ember.zeros(2), "extra": ember.zeros(1)}, tmp_path / "m.st")
    with pytest.raises(RuntimeError) as e:
        model.load_state_dict(ember.load(tmp_path / "m.st"))
    msg = str(e.value)
    assert "weight" in msg and "(2, 5)" in msg.replace("[", "(").replace("]", ")") or "2, 5" in msg
    assert "extra" in msg


def test_checkpoint_restores_model_optimizer_scheduler_and_rng(tmp_path):
    from ember.io import load_checkpoint, save_checkpoint
    model = ember.nn.Linear(3, 2)
    opt = ember.optim.Adam(model.parameters(), lr=0.1)
    sched = ember.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5)
    model(ember.randn(4, 3)).sum().backward()
    opt.step()
    sched.step()
    save_checkpoint(tmp_path / "ck.st", model, opt, sched, epoch=3, note="hi")
    expected_next = ember.rand(3).tolist()

    model2 = ember.nn.Linear(3, 2)
    opt2 = ember.optim.Adam(model2.parameters(), lr=0.1)
    sched2 = ember.optim.lr_scheduler.StepLR(opt2, 1, gamma=0.5)
    state = load_checkpoint(tmp_path / "ck.st", model2, opt2, sched2)
    assert state["epoch"] == 3 and state["extra"]["note"] == "hi"
    assert ember.rand(3).tolist() == expected_next
    for a, b in zip(model.parameters(), model2.parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"] == 0.05
    st1, st2 = opt.state[model.weight], opt2.state[model2.weight]
    np.testing.assert_array_equal(st1["exp_avg"], st2["exp_avg"])
    assert st1["step"] == st2["step"] == 1


def test_kill_during_checkpoint_write_keeps_previous_checkpoint(tmp_path):
    """A process killed with SIGKILL while writing leaves the old checkpoint intact and loadable."""
    path = tmp_path / "ck.safetensors"
    ember.save({"w": ember.zeros(4)}, path)
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {os.getcwd()!r})
        import ember, ember.io as io
        real_fsync = os.fsync
        def die(fd):  # the new bytes are written but not yet renamed into place
            os.kill(os.getpid(), signal.SIGKILL)
        os.fsync = die
        ember.save({{"w": ember.ones(1000000)}}, {str(path)!r})
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()
    back = ember.load(path)
    assert back["w"].tolist() == [0.0] * 4
