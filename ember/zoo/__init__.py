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
    """A decorator that adds a model builder to the registry of get_model and list_models.

    Args:
        name (str, optional): the registered name (looked up case-insensitively); None: the builder's
            ``__name__``. A name already taken by another builder raises ValueError. Default: None.

    Returns:
        callable: the decorator; it registers the builder and returns it unchanged.

    PyTorch:
        torchvision's ``torchvision.models._api.register_model`` (private there); same use.

    Example:
        >>> @ember.zoo.register_model("tiny_mlp")
        ... def tiny_mlp(num_classes=2):
        ...     return nn.Linear(4, num_classes)
        >>> ember.zoo.get_model("tiny_mlp", num_classes=3)
        Linear(in_features=4, out_features=3, bias=True)
        >>> del ember.zoo._MODELS["tiny_mlp"]  # unregistered again (the registry has no public removal)
    """
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
    """The names of the registered model builders, those get_model accepts.

    Returns:
        list of str: the names in sorted order (lower case).

    PyTorch:
        ``torchvision.models.list_models``, without its ``module``, ``include`` and ``exclude`` filters.

    Example:
        >>> "resnet18" in ember.zoo.list_models()
        True
        >>> ember.zoo.list_models()[:3]
        ['gpt', 'lenet5', 'lstm_classifier']
    """
    return sorted(_MODELS)


def get_model(name, **kwargs):
    """Build the model registered under a name, passing keyword arguments to its builder.

    Args:
        name (str): a name of list_models(), in any case; an unknown name raises ValueError listing them.
        **kwargs: the builder's keyword arguments (``num_classes``, ...).

    Returns:
        Module: the new model, randomly initialized.

    PyTorch:
        ``torchvision.models.get_model``; same use (ember's names include its own models, such as gpt and mlp).

    Example:
        >>> model = ember.zoo.get_model("lenet5", num_classes=10)
        >>> model(ember.randn(2, 1, 28, 28)).shape
        ember.Size([2, 10])
    """
    try:
        builder = _MODELS[name.lower()]
    except (KeyError, AttributeError):
        raise ValueError(f"get_model: unknown model {name!r}; available: {', '.join(list_models())}") from None
    return builder(**kwargs)
