"""Part 4 of the WildML RNN tutorial: GRU and LSTM language models in PyTensor.

- :class:`GRUTheano`: word embedding, stacked GRU layers, softmax output, RMSprop (the tutorial's model).
- :class:`LSTMTheano`: the same with LSTM layers.
- :func:`save_model_parameters_theano` / :func:`load_model_parameters_theano`: the tutorial's
  E/U/W/V/b/c file format.
- :func:`gradient_check_theano`: backpropagation against finite differences.
"""
from .base import GATES, RecurrentLM, hard_sigmoid
from .gradient_check import gradient_check_theano, numerical_gradients
from .gru_theano import GRUTheano
from .lstm_theano import LSTMTheano
from .original_format import load_model_parameters_theano, read_model_parameters, save_model_parameters_theano

__all__ = ["GRUTheano", "LSTMTheano", "RecurrentLM", "GATES", "hard_sigmoid", "gradient_check_theano",
           "numerical_gradients", "save_model_parameters_theano", "load_model_parameters_theano",
           "read_model_parameters"]
