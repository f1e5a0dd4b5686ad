"""The issue's Digits script, written against the PyTorch API, reaches 97% test accuracy on ember."""
from bench.digits_script import train


def test_digits_cnn_script_reaches_97_percent():
    accuracy, _ = train("ember", epochs=15, seed=0)
    assert accuracy >= 0.97
