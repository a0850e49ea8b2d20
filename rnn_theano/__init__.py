"""Part 2 of the WildML RNN tutorial: a vanilla RNN language model, in numpy and in PyTensor.

The same files and functions as :mod:`gru_theano` (Part 4): ``gradient_check.py``, ``train.py``,
``original_format.py`` and the model modules. Importing the package registers ``RNNNumpy``,
``RNNTheano`` and the tutorial's ``U, V, W`` file format in :mod:`lmkit.registry`.
"""
from .gradient_check import gradient_check, gradient_check_theano, gradient_errors, numerical_gradients
from .original_format import load_model_parameters_theano, read_model_parameters, save_model_parameters_theano
from .rnn_numpy import RNNNumpy
from .rnn_theano import RNNTheano
from .train import train_with_sgd

__all__ = ["RNNNumpy", "RNNTheano",
           "gradient_check", "gradient_check_theano", "gradient_errors", "numerical_gradients", "train_with_sgd",
           "save_model_parameters_theano", "load_model_parameters_theano", "read_model_parameters"]
