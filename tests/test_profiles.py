"""Profile choice: override, CI, GPU, and errors."""

import types

import pytest

import dip_helpers as dh
from dip_helpers import profiles


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    monkeypatch.delenv("DIP_PROFILE", raising=False)
    monkeypatch.delenv("CI", raising=False)
    dh.set_profile(None)
    yield
    dh.set_profile(None)


def test_override_wins(monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("DIP_PROFILE", "GPU ")
    p = dh.get_profile()
    assert p.name == "gpu" and "DIP_PROFILE" in p.reason


def test_ci_then_gpu_then_cpu(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert dh.get_profile().name == "ci"
    monkeypatch.setenv("CI", "false")
    monkeypatch.setattr(profiles, "gpu_available", lambda: True)
    assert dh.get_profile().name == "gpu"
    monkeypatch.setattr(profiles, "gpu_available", lambda: False)
    assert dh.get_profile().name == "cpu"


def test_gpu_detection_asks_the_framework(monkeypatch):
    import shutil

    import tensorflow as tf

    # this machine has no GPU (and no NVIDIA driver): detection must say so
    assert shutil.which("nvidia-smi") is None and profiles.gpu_available() is False
    monkeypatch.setattr(
        tf.config,
        "list_physical_devices",
        lambda kind=None: [types.SimpleNamespace(name="GPU:0")] if kind == "GPU" else [],
    )
    monkeypatch.setattr(tf.config.experimental, "get_device_details", lambda gpu: {"device_name": "Test GPU"})
    monkeypatch.setattr(tf.config.experimental, "get_memory_info", lambda name: {"current": 0, "peak": 2**20})
    assert profiles.gpu_available() is True
    from dip_helpers.engine import backend

    assert str(backend.device()) == "GPU: Test GPU" and backend.device().peak_mb == 1
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    assert profiles.gpu_available() is False


def test_bad_value_names_the_valid_ones(monkeypatch):
    monkeypatch.setenv("DIP_PROFILE", "fast")
    with pytest.raises(ValueError) as info:
        dh.get_profile()
    assert "'fast'" in str(info.value) and "ci, cpu, gpu, paper" in str(info.value)
    with pytest.raises(ValueError, match="ci, cpu, gpu, paper"):
        dh.set_profile("laptop")


def test_pick_and_describe():
    p = dh.set_profile("cpu")
    assert p.pick(ci=1, cpu=2, gpu=3) == 2
    text = p.describe()
    assert "cpu" in text and "DIP_PROFILE" in text and "set_profile" in text
    from dip_helpers.engine.backend import onednn_enabled

    from dip_helpers.engine import backend

    if backend.name() == "tensorflow":  # which kernels, as TensorFlow says
        assert ("oneDNN's CPU kernels here" in text) is onednn_enabled()
        assert ("plain CPU kernels here" in text) is not onednn_enabled()
    assert "kernels" not in dh.set_profile("ci").describe()  # in the cpu profile only
    with pytest.raises(TypeError):
        p.pick(ci=1, cpu=2)  # every profile must get a value


def test_paper_is_chosen_only_by_name(monkeypatch):
    monkeypatch.setattr(profiles, "gpu_available", lambda: True)
    assert dh.get_profile().name == "gpu"  # a GPU gets the Colab-sized profile, never the paper's
    monkeypatch.setenv("DIP_PROFILE", "paper")
    p = dh.get_profile()
    assert p.name == "paper" and p.pick(ci=1, cpu=2, gpu=3, paper=4) == 4
    assert p.pick(ci=1, cpu=2, gpu=3) == 3  # paper defaults to the gpu value
    assert dh.set_profile("gpu").pick(ci=1, cpu=2, gpu=3, paper=4) == 3


def test_expect_gives_a_verdict_and_raises_only_when_strict(monkeypatch, capsys):
    p = dh.set_profile("cpu")
    assert p.expect(True, "peak 25.7 dB", "no peak") is True
    assert p.expect(False, "peak 25.7 dB", "no peak: try more steps") is False  # "Run all" goes on
    out = capsys.readouterr().out
    assert "✅ peak 25.7 dB" in out and "⚠ no peak: try more steps" in out
    monkeypatch.setenv("DIP_STRICT", "1")
    assert p.expect(True, "fine", "bad") is True
    with pytest.raises(AssertionError, match="no peak"):
        p.expect(False, "peak", "no peak")
