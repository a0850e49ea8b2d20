"""Part 2 of the WildML RNN tutorial: a vanilla RNN language model, in numpy and in PyTensor."""
from .gradcheck import gradient_check
from .original_format import load_model_parameters_theano, save_model_parameters_theano
from .rnn_numpy import RNNNumpy
from .rnn_theano import RNNTheano, gradient_check_theano
from .train import train_with_sgd

__all__ = ["RNNNumpy", "RNNTheano", "gradient_check", "gradient_check_theano", "train_with_sgd",
           "save_model_parameters_theano", "load_model_parameters_theano"]
