"""What the tutorial's two training loops (``rnn_theano.train``, ``gru_theano.train``) share.

Both loops run SGD one sentence at a time, compute the loss now and then, and report each loss to a
``callback(model, progress)`` with one :class:`Progress` record; both stop on a loss that is not a
number and log the same timestamped line.
"""
from datetime import datetime
import math
from typing import NamedTuple

from .errors import TrainingError


class Progress(NamedTuple):
    """Where a training loop stands when it computes a loss, as passed to ``callback(model, progress)``.

    ``epoch`` and ``index`` (the position reached in that epoch's order) are what a checkpoint needs to
    resume; ``loss`` is the per-word loss just computed, ``learning_rate`` the rate in use from now on.
    """

    num_examples_seen: int
    epoch: int
    index: int
    loss: float
    learning_rate: float


def check_training_set(X, Y):
    """``ValueError`` unless there are as many target sentences as input sentences."""
    if len(X) != len(Y):
        raise ValueError(f"{len(X)} input sentences but {len(Y)} target sentences")


def check_positive(name, value):
    """``ValueError`` unless ``value`` is at least 1."""
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")


def check_finite(loss, num_examples_seen, learning_rate):
    """``loss`` as a float, or :class:`lmkit.errors.TrainingError` if it is NaN or infinite."""
    loss = float(loss)
    if not math.isfinite(loss):
        raise TrainingError(f"the loss became {loss} after {num_examples_seen} examples "
                            f"(learning rate {learning_rate:g}); try a smaller learning rate")
    return loss


def loss_line(num_examples_seen, epoch, loss):
    """The tutorial's log line: ``2015-10-01 12:00:00: Loss after num_examples_seen=100 epoch=1: 5.43``."""
    time = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    return "%s: Loss after num_examples_seen=%d epoch=%d: %f" % (time, num_examples_seen, epoch, loss)
