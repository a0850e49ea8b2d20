"""Training loop of the tutorial: plain SGD, one sentence at a time, with a simple learning-rate schedule."""
from datetime import datetime
import math

from lmkit.errors import TrainingError


def train_with_sgd(model, X_train, y_train, learning_rate=0.005, nepoch=1, evaluate_loss_after=5,
                   callback=None, log=print, progress=None):
    """Run ``nepoch`` passes of SGD over the sentences; returns ``(losses, learning_rate)``.

    At the start of every ``evaluate_loss_after``-th epoch (epoch 0 included, so the first entry is the
    loss before any training), the per-word loss over the whole training set is computed, logged with a
    timestamp and appended to ``losses`` as ``(num_examples_seen, loss)``. If it is higher than at the
    previous evaluation, SGD has overshot and the learning rate is halved. As in the tutorial there is
    no evaluation after the last epoch; call ``model.calculate_loss`` for that.

    ``model`` is anything with ``sgd_step(x, y, learning_rate)`` and ``calculate_loss(X, Y)``, so both
    ``RNNNumpy`` and ``RNNTheano``. ``callback(model, num_examples_seen, epoch, loss)``, if given, runs
    after each evaluation (to save a checkpoint, say). ``log`` receives each message line. ``progress``,
    if given, wraps each epoch's iterable of ``(x, y)`` pairs (e.g. a ``tqdm`` progress bar). A loss that
    is NaN or infinite stops training with :class:`lmkit.errors.TrainingError`.
    """
    if evaluate_loss_after < 1:
        raise ValueError("evaluate_loss_after must be at least 1")
    if len(X_train) != len(y_train):
        raise ValueError(f"{len(X_train)} input sentences but {len(y_train)} target sentences")
    losses = []
    num_examples_seen = 0
    for epoch in range(nepoch):
        if epoch % evaluate_loss_after == 0:
            loss = model.calculate_loss(X_train, y_train)
            if not math.isfinite(loss):
                raise TrainingError(f"the loss became {loss} after {num_examples_seen} examples "
                                    f"(learning rate {learning_rate:g}); try a smaller learning rate")
            losses.append((num_examples_seen, loss))
            time = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
            log("%s: Loss after num_examples_seen=%d epoch=%d: %f" % (time, num_examples_seen, epoch, loss))
            if len(losses) > 1 and losses[-1][1] > losses[-2][1]:
                learning_rate = learning_rate * 0.5
                log("Setting learning rate to %f" % learning_rate)
            if callback is not None:
                callback(model, num_examples_seen, epoch, loss)
        pairs = zip(X_train, y_train)
        for x, y in (progress(pairs) if progress is not None else pairs):
            model.sgd_step(x, y, learning_rate)
            num_examples_seen += 1
    return losses, learning_rate
