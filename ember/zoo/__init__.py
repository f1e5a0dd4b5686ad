"""ember.zoo: reference models with PyTorch-compatible parameter names (torchvision / nanoGPT layouts).

``get_model("resnet18", num_classes=10)`` builds a model by name; ``list_models()`` lists the names.
A state_dict saved from the PyTorch original (e.g. with ``safetensors.torch.save_file``) loads with
``model.load_state_dict(ember.load(path))``.
"""
from .gpt import GPT, gpt
from .lenet import LeNet5, lenet5
from .lstm import LSTMClassifier, lstm_classifier
from .mlp import mlp
from .mobilenet import InvertedResidual, MobileNetV2, mobilenet_v2
from .resnet import (BasicBlock, Bottleneck, CifarResNet, ResNet, resnet8, resnet18, resnet20, resnet32, resnet34,
                     resnet44, resnet50, resnet56, resnet101, resnet152)
from .vgg import VGG, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn
from .vit import VisionTransformer, vit

__all__ = ["get_model", "list_models", "register_model",
           "mlp", "lenet5", "resnet8", "resnet18", "resnet20", "resnet32", "resnet34", "resnet44", "resnet50",
           "resnet56", "resnet101", "resnet152", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn",
           "vgg19", "vgg19_bn", "mobilenet_v2", "lstm_classifier", "gpt", "vit",
           "LeNet5", "ResNet", "CifarResNet", "BasicBlock", "Bottleneck", "VGG", "MobileNetV2", "InvertedResidual",
           "LSTMClassifier", "GPT", "VisionTransformer"]

_MODELS = {}


def register_model(name=None):
    """Decorator adding a model builder to the registry under `name` (default: the function's name)."""
    def wrap(fn):
        key = (name or fn.__name__).lower()
        if key in _MODELS and _MODELS[key] is not fn:
            raise ValueError(f"register_model: a model named {key!r} is already registered")
        _MODELS[key] = fn
        return fn
    return wrap


for _fn in (mlp, lenet5, resnet8, resnet18, resnet20, resnet32, resnet34, resnet44, resnet50, resnet56, resnet101,
            resnet152, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn, mobilenet_v2,
            lstm_classifier, gpt, vit):
    register_model()(_fn)
del _fn


def list_models():
    """The sorted names accepted by get_model.

    >>> "resnet18" in ember.zoo.list_models()
    True
    """
    return sorted(_MODELS)


def get_model(name, **kwargs):
    """Build the model registered as `name` (case-insensitive), passing kwargs to its builder.

    >>> model = ember.zoo.get_model("lenet5", num_classes=10)
    >>> model(ember.randn(2, 1, 28, 28)).shape
    ember.Size([2, 10])
    """
    try:
        builder = _MODELS[name.lower()]
    except (KeyError, AttributeError):
        raise ValueError(f"get_model: unknown model {name!r}; available: {', '.join(list_models())}") from None
    return builder(**kwargs)
