"""A vanilla RNN language model in plain numpy: forward pass, loss, BPTT, gradient check, SGD.

The model reads a sentence as a list of word indices ``x = (x_0, ..., x_{T-1})`` and, after each word,
predicts the next one. With ``C`` words in the vocabulary and ``H`` hidden units::

    s_t = tanh(U x_t + W s_{t-1})        U: H x C,  W: H x H,  s_{-1} = 0
    o_t = softmax(V s_t)                 V: C x H

``x_t`` is a one-hot vector, so ``U x_t`` is simply column ``x_t`` of ``U``: the input layer is a lookup
table. ``o_t`` is a probability distribution over the vocabulary. The loss is the cross-entropy between
``o_t`` and the word that really came next, ``y_t`` (for a language model ``y`` is ``x`` shifted by one)::

    L = - sum_t log o_t[y_t]

There are no bias vectors, exactly as in the tutorial this project rebuilds.
"""
import numpy as np

from lmkit.gradcheck import gradient_check as _gradient_check
from lmkit.registry import checked_sizes, register_model
from lmkit.sentences import SentenceLosses, as_indices


def softmax(z):
    """``exp(z) / sum(exp(z))``, computed after subtracting ``max(z)`` so that ``exp`` cannot overflow."""
    e = np.exp(z - np.max(z))
    return e / np.sum(e)


def uniform_init(word_dim, hidden_dim, seed=None):
    """Initial ``U, V, W`` as the tutorial draws them, in that order.

    Each matrix is uniform in ``[-1/sqrt(n), 1/sqrt(n)]`` where ``n`` is the number of connections coming
    into a unit of the layer it feeds: ``word_dim`` for ``U``, ``hidden_dim`` for ``V`` and ``W``. Small
    weights keep ``tanh`` away from its flat regions at the start of training.

    ``seed=None`` draws from numpy's global generator (so ``np.random.seed(10)`` beforehand reproduces the
    tutorial); an integer uses a private ``np.random.RandomState(seed)``. Both model classes call this,
    so an ``RNNNumpy`` and an ``RNNTheano`` built with the same seed start from the same weights.
    """
    for name, value in (("word_dim", word_dim), ("hidden_dim", hidden_dim)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    rng = np.random if seed is None else np.random.RandomState(seed)
    bound_in, bound_hidden = np.sqrt(1.0 / word_dim), np.sqrt(1.0 / hidden_dim)
    U = rng.uniform(-bound_in, bound_in, (hidden_dim, word_dim))
    V = rng.uniform(-bound_hidden, bound_hidden, (word_dim, hidden_dim))
    W = rng.uniform(-bound_hidden, bound_hidden, (hidden_dim, hidden_dim))
    return U, V, W


def check_params(params, shapes):
    """Raise ``ValueError`` unless ``params`` has every key of ``shapes`` with exactly that shape."""
    for name, shape in shapes.items():
        if name not in params:
            raise ValueError(f"missing parameter {name!r}")
        got = np.shape(params[name])
        if got != shape:
            raise ValueError(f"parameter {name!r} has shape {got}, expected {shape}")


class RNNSizes:
    """The checkpoint description both RNN classes share: constructor sizes and the shapes of U, V, W."""

    def hparams(self):
        return {"word_dim": self.word_dim, "hidden_dim": self.hidden_dim,
                "bptt_truncate": self.bptt_truncate}

    def param_shapes(self):
        return self.weight_shapes(self.hparams())

    @classmethod
    def weight_shapes(cls, hparams):
        """The shape of every array ``get_params()`` returns for a model built with ``hparams``, without
        building it (a checkpoint's sizes are checked against these before its arrays are read)."""
        C, H = checked_sizes(cls, hparams, "word_dim", "hidden_dim")
        return {"U": (H, C), "V": (C, H), "W": (H, H)}


@register_model
class RNNNumpy(RNNSizes, SentenceLosses):
    """The tutorial's RNN language model, every step written out in numpy.

    ``bptt_truncate=k`` limits how far back the error of each output travels during backpropagation
    through time (see :meth:`bptt`); ``-1`` means no limit (full BPTT).

    Inputs are checked by :func:`lmkit.sentences.as_indices`; the losses over a corpus
    (``calculate_total_loss``, ``calculate_loss``) come from :class:`lmkit.sentences.SentenceLosses`.

    ``mode`` is accepted and ignored so that checkpoint code can build every model class the same way;
    ``dtype`` defaults to float64, which the gradient check needs.
    """

    model_type = "RNNNumpy"

    def __init__(self, word_dim, hidden_dim=100, bptt_truncate=4, seed=None, mode=None, dtype=None):
        self.word_dim = int(word_dim)
        self.hidden_dim = int(hidden_dim)
        self.bptt_truncate = int(bptt_truncate)
        self.dtype = np.dtype(dtype or np.float64)
        U, V, W = uniform_init(self.word_dim, self.hidden_dim, seed)
        self.U, self.V, self.W = (p.astype(self.dtype) for p in (U, V, W))

    def __repr__(self):
        return (f"RNNNumpy(word_dim={self.word_dim}, hidden_dim={self.hidden_dim}, "
                f"bptt_truncate={self.bptt_truncate})")

    # ---- forward pass -------------------------------------------------------------------------------

    def forward_propagation(self, x):
        """Run the sentence ``x`` through the network; returns ``(o, s)``.

        ``o[t]`` (shape ``T x C``) is the predicted distribution of the word after ``x[t]``. ``s`` has
        ``T + 1`` rows: ``s[t]`` is the hidden state after reading ``x[t]`` and the extra last row
        ``s[-1]`` is the zero initial state, so that ``s[t - 1]`` at ``t = 0`` finds it.
        """
        x = as_indices(x, self.word_dim)
        T = len(x)
        s = np.zeros((T + 1, self.hidden_dim), dtype=self.dtype)
        o = np.zeros((T, self.word_dim), dtype=self.dtype)
        for t in range(T):
            s[t] = np.tanh(self.U[:, x[t]] + self.W.dot(s[t - 1]))
            o[t] = softmax(self.V.dot(s[t]))
        return o, s

    def predict_proba(self, x):
        """The next-word distributions ``o`` (``T x C``) after each prefix of ``x``."""
        return self.forward_propagation(x)[0]

    def predict(self, x):
        """The most likely next word after each prefix of ``x``."""
        return np.argmax(self.predict_proba(x), axis=1)

    # ---- one word at a time (the step API every model has; lmkit.batched, lmkit.sampling) -------------

    def initial_state(self, batch=1):
        """``[s_{-1}]``: the zero state of ``batch`` sentences, ``(H, batch)``."""
        return [np.zeros((self.hidden_dim, batch), dtype=self.dtype)]

    def step(self, state, words):
        """Read one word per sentence: ``([s_t], log o_t)``, the new state and the log-distribution ``(B, C)``."""
        s = np.tanh(self.U[:, words] + self.W.dot(state[0]))      # one column per sentence
        z = self.V.dot(s).T                                        # (B, C)
        z = z - z.max(axis=1, keepdims=True)
        return [s], z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    # ---- loss ---------------------------------------------------------------------------------------

    def ce_error(self, x, y):
        """Cross-entropy of one sentence, summed over its words: ``-sum_t log o_t[y_t]``."""
        x, y = self._xy(x, y)
        o, _ = self.forward_propagation(x)
        return float(0.0 - np.sum(np.log(o[np.arange(len(y)), y])))

    # ---- backward pass ------------------------------------------------------------------------------

    def bptt(self, x, y):
        """Gradients ``[dL/dU, dL/dV, dL/dW]`` of the sentence loss, by backpropagation through time.

        With ``z_t = V s_t`` the error at the output is the softmax/cross-entropy classic
        ``dL/dz_t = o_t - onehot(y_t)``, which gives ``dL/dV += (o_t - onehot(y_t)) s_t^T``.
        Going into the hidden layer, ``delta_t = V^T (o_t - onehot(y_t)) * (1 - s_t^2)`` is the error
        of the pre-activation ``U x_t + W s_{t-1}``; it adds ``delta`` to column ``x_t`` of ``dU`` and
        ``delta s_{t-1}^T`` to ``dW``, then travels one step back: ``delta <- W^T delta * (1 - s_{t-1}^2)``.

        Truncation, as in the tutorial: the error of *each* output ``o_t`` is followed from step ``t``
        back to step ``max(0, t - bptt_truncate)``; ``-1`` means full BPTT. How this differs from
        ``RNNTheano``'s truncation: ``rnn_theano/README.md``, Truncation.
        """
        x, y = self._xy(x, y)
        T = len(y)
        o, s = self.forward_propagation(x)
        dLdU = np.zeros_like(self.U)
        dLdV = np.zeros_like(self.V)
        dLdW = np.zeros_like(self.W)
        delta_o = o                                    # becomes o_t - onehot(y_t), row by row
        delta_o[np.arange(T), y] -= 1.0
        for t in reversed(range(T)):
            dLdV += np.outer(delta_o[t], s[t])
            delta = self.V.T.dot(delta_o[t]) * (1 - s[t] ** 2)
            first = 0 if self.bptt_truncate < 0 else max(0, t - self.bptt_truncate)
            for step in range(t, first - 1, -1):       # step = t, t-1, ..., first
                dLdW += np.outer(delta, s[step - 1])   # s[-1] is the zero initial state
                dLdU[:, x[step]] += delta
                delta = self.W.T.dot(delta) * (1 - s[step - 1] ** 2)
        return [dLdU, dLdV, dLdW]

    def gradient_check(self, x, y, h=0.001, error_threshold=0.01, log=print):
        """Compare :meth:`bptt` with central finite differences; True when every entry agrees.

        The finite differences measure the gradient of the *untruncated* loss, so check a model with
        ``bptt_truncate=-1`` or a sentence of at most ``bptt_truncate + 1`` words.
        See :func:`lmkit.gradcheck.gradient_check`.
        """
        return _gradient_check(self, x, y, h=h, error_threshold=error_threshold, log=log)

    # ---- training -----------------------------------------------------------------------------------

    def sgd_step(self, x, y, learning_rate):
        """One step of stochastic gradient descent on a single sentence: ``p <- p - lr * dL/dp``."""
        dLdU, dLdV, dLdW = self.bptt(x, y)
        self.U -= learning_rate * dLdU
        self.V -= learning_rate * dLdV
        self.W -= learning_rate * dLdW

    # ---- checkpoint protocol (lmkit.checkpoint) ----------------------------------------------------

    def trainable_params(self):
        """The weights by name, in the order of :meth:`bptt`'s gradients (numpy arrays, not shared variables)."""
        return {"U": self.U, "V": self.V, "W": self.W}

    def get_params(self):
        return {"U": self.U.copy(), "V": self.V.copy(), "W": self.W.copy()}

    def set_params(self, params):
        check_params(params, self.param_shapes())
        for name in ("U", "V", "W"):
            setattr(self, name, np.array(params[name], dtype=self.dtype))
