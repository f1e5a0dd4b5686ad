"""torch.nn.modules.rnn: ember's classes under PyTorch's module path."""
from ..rnn import GRU, GRUCell, LSTM, LSTMCell, RNN, RNNBase, RNNCell, RNNCellBase  # noqa: F401
