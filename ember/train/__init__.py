"""One-call training (Keras' fit/evaluate/predict, callbacks and metrics) as a thin loop over ember's public API."""
from .trainer import Trainer, as_loader
from .callbacks import (Callback, CallbackList, History, LambdaCallback, EarlyStopping, ModelCheckpoint,
                        LearningRateMonitor, CSVLogger, TensorBoard, PlotHistory, GradientClipping)
from .metrics import (Metric, Accuracy, TopKAccuracy, Precision, Recall, F1Score, MeanAbsoluteError,
                      MeanSquaredError, Perplexity, FunctionMetric, get_metric)
from .loggers import CSVWriter, SummaryWriter, read_events, read_scalars
from .plots import plot_history
from . import callbacks, loggers, metrics, plots  # noqa: F401

__all__ = ["Trainer", "as_loader", "Callback", "CallbackList", "History", "LambdaCallback", "EarlyStopping",
           "ModelCheckpoint", "LearningRateMonitor", "CSVLogger", "TensorBoard", "PlotHistory", "GradientClipping",
           "Metric", "Accuracy", "TopKAccuracy", "Precision", "Recall", "F1Score", "MeanAbsoluteError",
           "MeanSquaredError", "Perplexity", "FunctionMetric", "get_metric", "CSVWriter", "SummaryWriter",
           "read_events", "read_scalars", "plot_history"]
