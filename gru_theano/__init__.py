"""Part 4 of the WildML RNN tutorial: GRU and LSTM language models in PyTensor.

The same files and functions as :mod:`rnn_theano` (Part 2): ``gradient_check.py``, ``train.py``,
``original_format.py`` and the model modules (``gru_theano.py``, ``lstm_theano.py``, their shared
``base.py`` and its parameter ``layout.py``). Importing the package registers ``GRUTheano``,
``LSTMTheano`` and the tutorial's E/U/W/V/b/c file format in :mod:`lmkit.registry`.

- :class:`GRUTheano`: word embedding, stacked GRU layers, softmax output, RMSprop (the tutorial's model).
- :class:`LSTMTheano`: the same with LSTM layers.
- :func:`train_with_sgd`: the tutorial's training loop, one RMSprop step per sentence.
- :func:`save_model_parameters_theano` / :func:`load_model_parameters_theano`: the tutorial's files.
- :func:`gradient_check_theano` and friends: backpropagation against finite differences.
"""
from lmkit.gates import GATES, hard_sigmoid

from .base import RecurrentLM
from .gradient_check import gradient_check, gradient_check_theano, gradient_errors, numerical_gradients
from .gru_theano import GRUTheano
from .lstm_theano import LSTMTheano
from .original_format import load_model_parameters_theano, read_model_parameters, save_model_parameters_theano
from .train import train_with_sgd

__all__ = ["GRUTheano", "LSTMTheano", "RecurrentLM", "GATES", "hard_sigmoid",
           "gradient_check", "gradient_check_theano", "gradient_errors", "numerical_gradients", "train_with_sgd",
           "save_model_parameters_theano", "load_model_parameters_theano", "read_model_parameters"]
