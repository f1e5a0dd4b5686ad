"""A sequence classifier: Embedding -> LSTM -> final hidden state -> Linear."""
from .. import nn
from ..ops.join import cat
from ..nn.rnn import LSTM
from ._weights import takes_weights

__all__ = ["LSTMClassifier", "lstm_classifier"]


class LSTMClassifier(nn.Module):
    """A sequence classifier: Embedding, LSTM, then a Linear on the last layer's final hidden state.

    When bidirectional, the final hidden states of both directions are concatenated. Modules: ``embedding``,
    ``lstm`` (batch_first), ``dropout``, ``fc``.

    Args:
        vocab_size (int): the number of token ids.
        embed_dim (int): the embedding's width. Default: 64.
        hidden_size (int): the LSTM's hidden size. Default: 128.
        num_layers (int): the LSTM's layers. Default: 1.
        num_classes (int): the number of classes. Default: 2.
        bidirectional (bool): a bidirectional LSTM. Default: False.
        dropout (float): the dropout before ``fc``, and between LSTM layers when there are several. Default: 0.0.
        padding_idx (int, optional): the embedding's padding id (its row stays zero). Default: None.

    Shape:
        - Input: (N, T) token ids (int64); a tensor of another number of dimensions raises ValueError.
        - Output: (N, num_classes) logits.

    PyTorch:
        No PyTorch counterpart: ember's own, made of ``nn.Embedding``, ``nn.LSTM`` and ``nn.Linear``.

    Example:
        >>> model = ember.zoo.LSTMClassifier(100, embed_dim=8, hidden_size=16, num_classes=3, bidirectional=True)
        >>> model(ember.randint(0, 100, (4, 7))).shape
        ember.Size([4, 3])
    """

    def __init__(self, vocab_size, embed_dim=64, hidden_size=128, num_layers=1, num_classes=2, bidirectional=False,
                 dropout=0.0, padding_idx=None):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=padding_idx)
        self.lstm = LSTM(embed_dim, hidden_size, num_layers=num_layers, batch_first=True, bidirectional=bidirectional,
                         dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden_size * (2 if bidirectional else 1), num_classes)

    def forward(self, tokens):
        if tokens.ndim != 2:
            raise ValueError(f"LSTMClassifier: expected (batch, seq_len) token ids, got shape {tuple(tokens.shape)}")
        _, (h_n, _) = self.lstm(self.embedding(tokens))
        # h_n: (num_layers * num_directions, N, H); the last layer's directions are the last entries
        h = cat([h_n[-2], h_n[-1]], dim=1) if self.lstm.bidirectional else h_n[-1]
        return self.fc(self.dropout(h))


@takes_weights
def lstm_classifier(vocab_size, embed_dim=64, hidden_size=128, num_layers=1, num_classes=2, bidirectional=False,
                    **kwargs):
    """Build an LSTMClassifier: Embedding -> LSTM -> last hidden state -> Linear over num_classes.

    Args:
        vocab_size (int): the number of token ids.
        embed_dim (int): the embedding's width. Default: 64.
        hidden_size (int): the LSTM's hidden size. Default: 128.
        num_layers (int): the LSTM's layers. Default: 1.
        num_classes (int): the number of classes. Default: 2.
        bidirectional (bool): a bidirectional LSTM. Default: False.
        **kwargs: LSTMClassifier's ``dropout`` and ``padding_idx``.

    Returns:
        LSTMClassifier: the model.

    PyTorch:
        No PyTorch counterpart: ember's own.

    Example:
        >>> model = ember.zoo.lstm_classifier(100, embed_dim=8, hidden_size=16)
        >>> model(ember.randint(0, 100, (4, 7))).shape
        ember.Size([4, 2])
    """
    return LSTMClassifier(vocab_size, embed_dim, hidden_size, num_layers, num_classes, bidirectional, **kwargs)
