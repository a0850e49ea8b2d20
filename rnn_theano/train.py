"""Part 2's training loop: plain SGD, one sentence at a time, with the tutorial's learning-rate schedule.

The same function, with the same return value and callback, as ``gru_theano/train.py``; what the two
loops share (the :class:`~lmkit.tutorial_loop.Progress` record, the checks, the log line) is in
:mod:`lmkit.tutorial_loop`.
"""
from lmkit.tutorial_loop import Progress, check_finite, check_positive, check_training_set, loss_line


def train_with_sgd(model, X_train, y_train, learning_rate=0.005, nepoch=1, evaluate_loss_after=5,
                   callback=None, log=print, progress=None):
    """Run ``nepoch`` passes of SGD over the sentences; returns ``(losses, learning_rate)``.

    At the start of every ``evaluate_loss_after``-th epoch (epoch 0 included, so the first entry is the
    loss before any training), the per-word loss over the whole training set is computed, logged with a
    timestamp and appended to ``losses`` as ``(num_examples_seen, loss)``. If it is higher than at the
    previous evaluation, SGD has overshot and the learning rate is halved. As in the tutorial there is
    no evaluation after the last epoch; call ``model.calculate_loss`` for that.

    ``model`` is anything with ``sgd_step(x, y, learning_rate)`` and ``calculate_loss(X, Y)``, so both
    ``RNNNumpy`` and ``RNNTheano``. ``callback(model, progress)``, if given, runs after each evaluation (to
    save a checkpoint, say), with a :class:`~lmkit.tutorial_loop.Progress` whose ``index`` is 0 (the evaluation comes
    before the epoch's first sentence) and whose ``learning_rate`` is the one the epoch will use. ``log``
    receives each message line. ``progress``, if given, wraps each epoch's iterable of ``(x, y)`` pairs
    (e.g. a ``tqdm`` progress bar). A loss that is NaN or infinite stops training with
    :class:`lmkit.errors.TrainingError`.
    """
    check_training_set(X_train, y_train)
    check_positive("evaluate_loss_after", evaluate_loss_after)
    losses = []
    num_examples_seen = 0
    for epoch in range(nepoch):
        if epoch % evaluate_loss_after == 0:
            loss = check_finite(model.calculate_loss(X_train, y_train), num_examples_seen, learning_rate)
            losses.append((num_examples_seen, loss))
            log(loss_line(num_examples_seen, epoch, loss))
            if len(losses) > 1 and losses[-1][1] > losses[-2][1]:
                learning_rate = learning_rate * 0.5
                log("Setting learning rate to %f" % learning_rate)
            if callback is not None:
                callback(model, Progress(num_examples_seen, epoch, 0, loss, learning_rate))
        pairs = zip(X_train, y_train)
        for x, y in (progress(pairs) if progress is not None else pairs):
            model.sgd_step(x, y, learning_rate)
            num_examples_seen += 1
    return losses, learning_rate
