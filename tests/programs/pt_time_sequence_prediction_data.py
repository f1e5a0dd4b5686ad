# Upstream: pytorch/examples time_sequence_prediction/generate_sine_wave.py at 77f55b912142.
# Changed: the imports (ember for torch), the sizes (L = 100 samples per wave, N = 8 waves instead of 1000 and 100).
# It writes traindata.pt into the working directory, where train.py reads it (the test runs both in a temporary one).
import numpy as np
import ember as torch

np.random.seed(2)

T = 20
L = 100
N = 8

x = np.empty((N, L), 'int64')
x[:] = np.array(range(L)) + np.random.randint(-4 * T, 4 * T, N).reshape(N, 1)
data = np.sin(x / 1.0 / T).astype('float64')
torch.save(data, open('traindata.pt', 'wb'))
