"""A sequence classifier: Embedding -> LSTM -> final hidden state -> Linear."""
from .. import nn
from ..ops.join import cat
from ..nn.rnn import LSTM
from ._weights import takes_weights

__all__ = ["LSTMClassifier", "lstm_classifier"]


class LSTMClassifier(nn.Module):
    """Classify (N, T) token ids from the last layer's final hidden state (both directions, concatenated, when
    bidirectional). Modules: embedding, lstm (batch_first), dropout, fc."""

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
    """Embedding -> LSTM -> last hidden state -> Linear over num_classes."""
    return LSTMClassifier(vocab_size, embed_dim, hidden_size, num_layers, num_classes, bidirectional, **kwargs)
