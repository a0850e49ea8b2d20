"""The same RNN language model as a PyTensor graph: ``scan`` for the loop, ``grad`` for BPTT.

Instead of writing the backward pass by hand (see ``rnn_numpy.py``), we describe one time step
symbolically, let ``pytensor.scan`` repeat it over the sentence, and ask ``pytensor.grad`` for the
derivatives of the summed cross-entropy. PyTensor compiles the result to C (or Numba / JAX, see
``lmkit.backend``). The step is the tutorial's, unchanged::

    s_t = tanh(U[:, x_t] + W s_{t-1})      s_{-1} = 0
    o_t = softmax(V s_t)                   L = -sum_t log o_t[y_t]

The file reads in that order: the recurrence :func:`step`, the per-sentence graph, the tutorial's
methods, then the batched graph the project's trainer uses and the one-word step generation uses (the
same :func:`step`, on a whole batch; :mod:`lmkit.batched` builds the cost and the step API from them).
"""
import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.tensor.special import softmax

from lmkit.backend import pytensor_mode
from lmkit.batched import BatchedLM
from lmkit.compiled import CompiledModel
from lmkit.registry import register_model
from lmkit.sentences import as_indices

from .rnn_numpy import RNNSizes, check_params, uniform_init


def step(u_t, s_prev, W):
    """``s_t = tanh(u_t + W s_{t-1})``, with ``u_t = U[:, x_t]`` already looked up.

    ``s_prev`` is one state ``(H,)`` in the per-sentence graph, or a batch of states ``(H, B)`` (one per
    column, ``u_t`` then ``(H, B)`` too) in the batched graph.
    """
    return pt.tanh(u_t + pt.dot(W, s_prev))


@register_model
class RNNTheano(RNNSizes, CompiledModel, BatchedLM):
    """The tutorial's RNN language model compiled with PyTensor.

    Compiled functions (each compiled on first use, then kept; ``compile()`` forces them, see
    :mod:`lmkit.compiled`): :meth:`forward_propagation` (x -> o), :meth:`predict` (argmax of o),
    :meth:`ce_error` (summed cross-entropy), :meth:`bptt` (``[dU, dV, dW]``) and :meth:`sgd_step`.
    ``mode`` picks the backend (``'c'``, ``'numba'``, ``'jax'``, ``'python'``; see ``lmkit.backend``);
    ``dtype`` defaults to ``pytensor.config.floatX``. The same ``seed`` gives the same initial weights as
    :class:`RNNNumpy`.

    ``bptt_truncate`` is passed to ``scan(truncate_gradient=bptt_truncate)`` as in the original Theano
    code; with the tutorial's default 4 only the last four words of a sentence send any gradient
    (``rnn_theano/README.md``, Truncation, explains this and how ``RNNNumpy`` differs).
    """

    model_type = "RNNTheano"

    def __init__(self, word_dim, hidden_dim=100, bptt_truncate=4, mode=None, dtype=None, seed=None):
        self.word_dim = int(word_dim)
        self.hidden_dim = int(hidden_dim)
        self.bptt_truncate = int(bptt_truncate)
        self.mode = mode
        pytensor_mode(mode)                          # reject an unknown backend name now, not later
        self.dtype = str(np.dtype(dtype or pytensor.config.floatX))
        U, V, W = uniform_init(self.word_dim, self.hidden_dim, seed)
        self.U = pytensor.shared(U.astype(self.dtype), name="U")
        self.V = pytensor.shared(V.astype(self.dtype), name="V")
        self.W = pytensor.shared(W.astype(self.dtype), name="W")

    def __repr__(self):
        return (f"RNNTheano(word_dim={self.word_dim}, hidden_dim={self.hidden_dim}, "
                f"bptt_truncate={self.bptt_truncate}, mode={self.mode!r}, dtype={self.dtype!r})")

    # ---- the per-sentence graph ---------------------------------------------------------------------

    def _build_graph(self, length=None):
        """``name -> (inputs, outputs, updates)`` of the five compiled functions (see :mod:`lmkit.compiled`)."""
        U, V, W = self.U, self.V, self.W
        # a sentence of any length, or of ``length`` words (JAX: lmkit.compiled)
        x = pt.tensor("x", dtype="int32", shape=(length,))
        y = pt.tensor("y", dtype="int32", shape=(length,))
        mask = pt.tensor("mask", dtype=self.dtype, shape=(length,))  # 1 on the sentence's words, 0 on padding

        def forward_prop_step(x_t, m_t, s_t_prev, U, V, W):
            s_t = step(U[:, x_t], s_t_prev, W)
            s_t = m_t * s_t + (1 - m_t) * s_t_prev   # a padded step keeps the state
            # The output layer stays inside the scan, as in the tutorial: that is what makes
            # truncate_gradient cut V's gradient too (README, Truncation).
            o_t = softmax(V.dot(s_t), axis=-1)
            return o_t, s_t

        # o[t] and s[t] for every t; outputs_info: o is not fed back (None), s starts at zero.
        o, s = pytensor.scan(
            forward_prop_step,
            sequences=[x, mask],
            outputs_info=[None, pt.zeros(self.hidden_dim, dtype=self.dtype)],
            non_sequences=[U, V, W],
            truncate_gradient=self.bptt_truncate,
            strict=True,
            return_updates=False,
        )
        prediction = pt.argmax(o, axis=1)
        o_error = pt.sum(-pt.log(o[pt.arange(y.shape[0]), y]) * mask)   # cross-entropy, summed over words
        dU, dV, dW = pytensor.grad(o_error, [U, V, W])
        learning_rate = pt.scalar("learning_rate", dtype=self.dtype)
        return {
            "forward_propagation": ([x, mask], o, None),
            "predict": ([x, mask], prediction, None),
            "ce_error": ([x, y, mask], o_error, None),
            "bptt": ([x, y, mask], [dU, dV, dW], None),
            "sgd_step": ([x, y, mask, learning_rate], [],
                         [(U, U - learning_rate * dU), (V, V - learning_rate * dV),
                          (W, W - learning_rate * dW)]),
        }

    # ---- the tutorial's methods ---------------------------------------------------------------------
    # Inputs are checked by lmkit.sentences.as_indices; an empty sentence has no outputs, loss 0, zero
    # gradients, and an SGD step on it changes nothing.

    def forward_propagation(self, x):
        """``o`` (``T x C``): the next-word distribution after each word of ``x``."""
        x = as_indices(x, self.word_dim)
        if len(x) == 0:
            return np.zeros((0, self.word_dim), dtype=self.dtype)
        o, pad = self._run("forward_propagation", x)
        return np.asarray(o)[pad:]

    def predict_proba(self, x):
        """Same as :meth:`forward_propagation`; the interface shared by every model of the project."""
        return self.forward_propagation(x)

    def predict(self, x):
        """The most likely next word after each prefix of ``x``."""
        x = as_indices(x, self.word_dim)
        if len(x) == 0:
            return np.zeros(0, dtype=np.int64)
        predicted, pad = self._run("predict", x)
        return np.asarray(predicted)[pad:]

    def ce_error(self, x, y):
        """Cross-entropy of one sentence, summed over its words."""
        x, y = self._xy(x, y)
        return float(self._run("ce_error", x, y)[0]) if len(x) else 0.0

    def bptt(self, x, y):
        """``[dU, dV, dW]`` for one sentence, as derived by ``pytensor.grad`` (truncated: see the class)."""
        x, y = self._xy(x, y)
        if len(x) == 0:
            return self._zero_gradients()
        return [np.asarray(g) for g in self._run("bptt", x, y)[0]]

    def sgd_step(self, x, y, learning_rate):
        """One SGD step on one sentence, ``p <- p - learning_rate * dL/dp``, run inside the compiled function."""
        x, y = self._xy(x, y)
        if len(x):
            self._run("sgd_step", x, y, learning_rate)

    # calculate_total_loss(X, Y) and calculate_loss(X, Y): lmkit.sentences.SentenceLosses.

    def get_params(self):
        """Copies of ``U``, ``V``, ``W`` (the checkpoint protocol of ``lmkit.checkpoint``)."""
        return {name: np.array(getattr(self, name).get_value(), copy=True) for name in ("U", "V", "W")}

    def set_params(self, params):
        """Replace ``U``, ``V``, ``W``; ``ValueError`` on a missing name or a wrong shape."""
        check_params(params, self.param_shapes())
        for name in ("U", "V", "W"):
            getattr(self, name).set_value(np.array(params[name], dtype=self.dtype))

    # ---- the batched graph (lmkit.trainer) ----------------------------------------------------------

    def trainable_params(self):
        """The shared variables by name, in the order of :meth:`bptt`'s gradients (what the trainer updates)."""
        return {"U": self.U, "V": self.V, "W": self.W}

    def num_states(self):
        """How many ``(H, B)`` state matrices the recurrence carries (one: ``s``)."""
        return 1

    def dropout_sites(self):
        """Activations the batched trainer may apply dropout to: the input ``U[:, x_t]`` and the state ``s_t``
        fed to the output layer (see :meth:`gru_theano.base.RecurrentLM.dropout_sites`)."""
        return [("input", self.hidden_dim), ("output", self.hidden_dim)]

    def output_layer(self):
        """The output layer's weights ``V`` (C x H) and bias (none here), symbolic (:mod:`lmkit.batched`)."""
        return self.V, None

    def batched_top(self, x, states, reset=None, dropout=None):
        """The recurrence over a ``(T, B)`` batch (see :meth:`lmkit.batched.BatchedLM.batched_cost`): the states
        fed to the output layer ``(T, H, B)``, and ``[s_T]``. The input lookup ``U[:, x_t]`` for all steps is one
        large gather outside ``scan``; only :func:`step` runs in the loop."""
        dropout = dropout or {}
        T, B, H = x.shape[0], x.shape[1], self.hidden_dim
        inputs = self.U.T[x.flatten()].reshape((T, B, H)).dimshuffle(0, 2, 1)  # (T, H, B): U[:, x_t]
        if "input" in dropout:
            inputs = inputs * dropout["input"]
        keep = 1 - (reset if reset is not None else pt.zeros(x.shape, dtype=self.dtype))

        def batch_step(u_t, keep_t, s_prev, W):
            return step(u_t, s_prev * keep_t.dimshuffle("x", 0), W)

        s = pytensor.scan(batch_step, sequences=[inputs, keep], outputs_info=[states[0]], non_sequences=[self.W],
                          strict=True, return_updates=False)        # (T, H, B)
        top = s * dropout["output"] if "output" in dropout else s
        return top, [s[-1]]

    def input_table(self):
        """``U``: column ``w`` is the input term ``U x_t`` of word ``w`` (the step API of :mod:`lmkit.batched`)."""
        return self.U

    def next_states(self, inputs, states, gates=None):
        """One step for a batch (the step API of :mod:`lmkit.batched`): ``inputs`` is ``U[:, x_t]`` for every
        sentence, ``(H, B)``; returns ``[s_t]`` and ``s_t`` (a vanilla RNN has no ``gates`` to report)."""
        s = step(inputs, states[0], self.W)
        return [s], s
