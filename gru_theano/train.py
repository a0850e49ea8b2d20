"""Part 4's training loop: one RMSprop step per sentence, sentences shuffled every epoch.

The same function, with the same return value and callback, as ``rnn_theano/train.py``; what the two
loops share (the :class:`~lmkit.tutorial_loop.Progress` record, the checks, the log line) is in
:mod:`lmkit.tutorial_loop`.

Every ``callback_every`` examples the loss on a subsample of the training set is computed, logged and
handed to the callback (the tutorial's callback printed that loss, a few generated sentences, and saved
the model). The order of sentences in an epoch depends only on ``seed`` and the epoch number, and the
loop can start in the middle of an epoch, so a run resumed from a checkpoint (which stores the RMSprop
caches with the weights) continues exactly where it stopped.
"""
import numpy as np

from lmkit.tutorial_loop import Progress, check_finite, check_positive, check_training_set, loss_line


def epoch_order(n, seed, epoch):
    """The shuffled order of ``n`` sentences in ``epoch``."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def train_with_sgd(model, X_train, y_train, learning_rate=0.001, nepoch=20, decay=0.9, callback_every=10000,
                   callback=None, seed=0, start_epoch=0, start_index=0, progress=None, loss_subsample=10000,
                   log=print):
    """Train ``model`` in place, one ``model.sgd_step(x, y, learning_rate, decay)`` per sentence.

    Returns ``(losses, learning_rate)``, as Part 2's loop does.

    After every ``callback_every`` examples the per-word loss on the first ``loss_subsample`` training
    sentences is computed (the tutorial's callback did ``model.calculate_loss(x_train[:10000],
    y_train[:10000])``), logged with a timestamp through ``log``, appended to ``losses`` as
    ``(num_examples_seen, loss)``, and reported to ``callback(model, progress)`` with a
    :class:`~lmkit.tutorial_loop.Progress` whose ``epoch`` and ``index`` (the position reached in the epoch) are what a
    checkpoint needs to resume with ``start_epoch`` / ``start_index``. The learning rate stays as given
    (RMSprop adapts the steps); it is returned for the same shape as Part 2's loop. ``progress(positions,
    epoch)`` wraps each epoch's iterable of positions (e.g. a tqdm bar). A loss that is NaN or infinite
    stops training with :class:`lmkit.errors.TrainingError`.
    """
    check_training_set(X_train, y_train)
    check_positive("callback_every", callback_every)
    n = len(y_train)
    losses = []
    num_examples_seen = start_epoch * n + start_index
    for epoch in range(start_epoch, nepoch):
        order = epoch_order(n, seed, epoch)
        first = start_index if epoch == start_epoch else 0
        positions = range(first, n)
        for index in (progress(positions, epoch) if progress else positions):
            i = order[index]
            model.sgd_step(X_train[i], y_train[i], learning_rate, decay)
            num_examples_seen += 1
            if num_examples_seen % callback_every == 0:
                loss = model.calculate_loss(X_train[:loss_subsample], y_train[:loss_subsample])
                loss = check_finite(loss, num_examples_seen, learning_rate)
                losses.append((num_examples_seen, loss))
                log(loss_line(num_examples_seen, epoch, loss))
                if callback is not None:
                    callback(model, Progress(num_examples_seen, epoch, index + 1, loss, learning_rate))
    return losses, learning_rate
