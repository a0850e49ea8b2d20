"""Part 4's training loop: one RMSprop step per sentence, sentences shuffled every epoch.

Every ``callback_every`` examples a callback runs (the tutorial's prints the loss on a subsample, a few
generated sentences, and saves the model). The order of sentences in an epoch depends only on ``seed``
and the epoch number, and the loop can start in the middle of an epoch, so a run resumed from a
checkpoint (which stores the RMSprop caches with the weights) continues exactly where it stopped.
"""
import math

import numpy as np

from lmkit.errors import TrainingError


def epoch_order(n, seed, epoch):
    """The shuffled order of ``n`` sentences in ``epoch``."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def train_with_sgd(model, X_train, y_train, learning_rate=0.001, nepoch=20, decay=0.9, callback_every=10000,
                   callback=None, seed=0, start_epoch=0, start_index=0, progress=None):
    """Train ``model`` in place; returns the number of examples seen.

    ``callback(model, num_examples_seen, epoch, index)`` runs after every ``callback_every`` examples, with
    ``index`` the position reached in the epoch (what a checkpoint needs to resume with ``start_epoch`` /
    ``start_index``). ``progress`` wraps each epoch's iterable (e.g. a tqdm bar).
    """
    n = len(y_train)
    num_examples_seen = start_epoch * n + start_index
    for epoch in range(start_epoch, nepoch):
        order = epoch_order(n, seed, epoch)
        first = start_index if epoch == start_epoch else 0
        positions = range(first, n)
        for index in (progress(positions, epoch) if progress else positions):
            i = order[index]
            model.sgd_step(X_train[i], y_train[i], learning_rate, decay)
            num_examples_seen += 1
            if callback and callback_every and num_examples_seen % callback_every == 0:
                callback(model, num_examples_seen, epoch, index + 1)
    return num_examples_seen


def check_finite(loss, num_examples_seen):
    if not math.isfinite(loss):
        raise TrainingError(f"the loss became {loss} after {num_examples_seen} examples; try a smaller learning rate")
    return loss
