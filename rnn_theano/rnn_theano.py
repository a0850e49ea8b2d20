"""The same RNN language model as a PyTensor graph: ``scan`` for the loop, ``grad`` for BPTT.

Instead of writing the backward pass by hand (see ``rnn_numpy.py``), we describe one time step
symbolically, let ``pytensor.scan`` repeat it over the sentence, and ask ``pytensor.grad`` for the
derivatives of the summed cross-entropy. PyTensor compiles the result to C (or Numba / JAX, see
``lmkit.backend``). The step is the tutorial's, unchanged::

    s_t = tanh(U[:, x_t] + W s_{t-1})
    o_t = softmax(V s_t)
"""
import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.tensor.special import softmax

from lmkit.backend import pytensor_mode

from lmkit.batched_output import output_cost, output_nll

from .gradcheck import gradient_check
from .rnn_numpy import RNNSizes, as_indices, check_params, uniform_init


class RNNTheano(RNNSizes):
    """The tutorial's RNN language model compiled with PyTensor.

    Compiled functions (each compiled on first use, then kept): :meth:`forward_propagation` (x -> o),
    :meth:`predict` (argmax of o), :meth:`ce_error` (summed cross-entropy), :meth:`bptt`
    (``[dU, dV, dW]``) and :meth:`sgd_step`. ``mode`` picks the backend (``'c'``, ``'numba'``, ``'jax'``,
    ``'python'``; see ``lmkit.backend``); ``dtype`` defaults to ``pytensor.config.floatX``. The same
    ``seed`` gives the same initial weights as :class:`RNNNumpy`.

    **What ``bptt_truncate`` means here.** As in the original Theano code it is passed to
    ``scan(truncate_gradient=bptt_truncate)``. Scan then runs its backward pass over the *last*
    ``bptt_truncate`` time steps only and drops everything before them. Because the output layer
    ``o_t = softmax(V s_t)`` sits inside the scanned step, the words before the last ``k`` do not send any
    gradient at all: not to ``U`` or ``W``, and not even to ``V``. For a sentence of ``T`` words and
    ``k = bptt_truncate``, the gradient is that of ``-sum_{t >= T-k} log o_t[y_t]`` with the state
    ``s_{T-k-1}`` held constant.

    ``RNNNumpy.bptt`` truncates differently: every output sends its error to ``V`` and back through
    ``k`` earlier steps. The two agree when nothing is truncated by either, i.e. for sentences of at most
    ``k`` words (numpy alone would already be exact up to ``k + 1``). With ``bptt_truncate=-1`` both
    compute full BPTT and agree on every sentence. The tutorial's default ``k = 4`` therefore trains,
    in this class, on the last four words of each sentence only; this is kept on purpose to reproduce it.
    """

    model_type = "RNNTheano"
    _FUNCTIONS = ("forward_propagation", "predict", "ce_error", "bptt", "sgd_step")

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
        self._build_graph()
        self._compiled = {}

    def __repr__(self):
        return (f"RNNTheano(word_dim={self.word_dim}, hidden_dim={self.hidden_dim}, "
                f"bptt_truncate={self.bptt_truncate}, mode={self.mode!r}, dtype={self.dtype!r})")

    # ---- the symbolic graph -------------------------------------------------------------------------

    def _build_graph(self):
        U, V, W = self.U, self.V, self.W
        x = pt.ivector("x")
        y = pt.ivector("y")

        def forward_prop_step(x_t, s_t_prev, U, V, W):
            s_t = pt.tanh(U[:, x_t] + W.dot(s_t_prev))
            o_t = softmax(V.dot(s_t), axis=-1)
            return o_t, s_t

        # o[t] and s[t] for every t; outputs_info: o is not fed back (None), s starts at zero.
        o, s = pytensor.scan(
            forward_prop_step,
            sequences=x,
            outputs_info=[None, pt.zeros(self.hidden_dim, dtype=self.dtype)],
            non_sequences=[U, V, W],
            truncate_gradient=self.bptt_truncate,
            strict=True,
            return_updates=False,
        )
        prediction = pt.argmax(o, axis=1)
        o_error = pt.sum(-pt.log(o[pt.arange(y.shape[0]), y]))   # cross-entropy, summed over words
        dU, dV, dW = pytensor.grad(o_error, [U, V, W])
        learning_rate = pt.scalar("learning_rate", dtype=self.dtype)

        # name -> (inputs, outputs, updates); compiled lazily by _function().
        self._graphs = {
            "forward_propagation": ([x], o, None),
            "predict": ([x], prediction, None),
            "ce_error": ([x, y], o_error, None),
            "bptt": ([x, y], [dU, dV, dW], None),
            "sgd_step": ([x, y, learning_rate], [],
                         [(U, U - learning_rate * dU), (V, V - learning_rate * dV),
                          (W, W - learning_rate * dW)]),
        }

    def _function(self, name):
        """The compiled function ``name``, compiling it the first time it is asked for."""
        fn = self._compiled.get(name)
        if fn is None:
            inputs, outputs, updates = self._graphs[name]
            fn = pytensor.function(inputs, outputs, updates=updates, mode=pytensor_mode(self.mode),
                                   name=name)
            self._compiled[name] = fn
        return fn

    def compile(self, *names):
        """Compile the named functions now (all five by default), e.g. before timing a training run."""
        for name in names or self._FUNCTIONS:
            self._function(name)
        return self

    def _xy(self, x, y):
        x = as_indices(x, self.word_dim)
        y = as_indices(y, self.word_dim, "y")
        if len(y) != len(x):
            raise ValueError(f"x has {len(x)} words but y has {len(y)}")
        return x, y

    # ---- the compiled functions ---------------------------------------------------------------------

    def forward_propagation(self, x):
        """``o`` (``T x C``): the next-word distribution after each word of ``x``."""
        x = as_indices(x, self.word_dim)
        if len(x) == 0:
            return np.zeros((0, self.word_dim), dtype=self.dtype)
        return np.asarray(self._function("forward_propagation")(x))

    def predict_proba(self, x):
        """Same as :meth:`forward_propagation`; the interface shared by every model of the project."""
        return self.forward_propagation(x)

    def predict(self, x):
        """The most likely next word after each prefix of ``x``."""
        x = as_indices(x, self.word_dim)
        if len(x) == 0:
            return np.zeros(0, dtype=np.int64)
        return np.asarray(self._function("predict")(x))

    def ce_error(self, x, y):
        """Cross-entropy of one sentence, summed over its words."""
        x, y = self._xy(x, y)
        if len(x) == 0:
            return 0.0
        return float(self._function("ce_error")(x, y))

    def bptt(self, x, y):
        """``[dU, dV, dW]`` for one sentence, as derived by ``pytensor.grad`` (truncation: see the class)."""
        x, y = self._xy(x, y)
        if len(x) == 0:
            return [np.zeros_like(p.get_value()) for p in (self.U, self.V, self.W)]
        return [np.asarray(g) for g in self._function("bptt")(x, y)]

    def sgd_step(self, x, y, learning_rate):
        """One SGD step on one sentence; the update runs inside the compiled function."""
        x, y = self._xy(x, y)
        if len(x) == 0:
            return
        self._function("sgd_step")(x, y, np.asarray(learning_rate, dtype=self.dtype))

    # ---- losses over a corpus -----------------------------------------------------------------------

    def calculate_total_loss(self, X, Y):
        """Cross-entropy summed over every word of every sentence."""
        return float(np.sum([self.ce_error(x, y) for x, y in zip(X, Y)]))

    def calculate_loss(self, X, Y):
        """Cross-entropy per word (``ln C`` for a model that guesses uniformly)."""
        num_words = sum(len(y) for y in Y)
        if num_words == 0:
            raise ValueError("cannot average the loss over zero words")
        return self.calculate_total_loss(X, Y) / num_words

    # ---- checkpoint protocol (lmkit.checkpoint) ----------------------------------------------------

    def get_params(self):
        return {name: np.array(getattr(self, name).get_value(), copy=True) for name in ("U", "V", "W")}

    def set_params(self, params):
        check_params(params, self.param_shapes())
        for name in ("U", "V", "W"):
            getattr(self, name).set_value(np.array(params[name], dtype=self.dtype))

    # ---- the batched graph (lmkit.trainer) ----------------------------------------------------------

    def trainable_params(self):
        """The shared variables the batched trainer updates, by name."""
        return {"U": self.U, "V": self.V, "W": self.W}

    def num_states(self):
        """How many ``(H, B)`` state matrices the recurrence carries (one: ``s``)."""
        return 1

    def dropout_sites(self):
        """Activations the batched trainer may apply dropout to: the input ``U[:, x_t]`` and the state ``s_t``
        fed to the output layer (see :meth:`gru_theano.base.RecurrentLM.dropout_sites`)."""
        return [("input", self.hidden_dim), ("output", self.hidden_dim)]

    def batched_cost(self, x, y, mask, states, reset=None, dropout=None):
        """Summed cross-entropy of a ``(T, B)`` batch, and the final state, for the batched trainer.

        ``x``, ``y``: ``(T, B)`` word indices (time-major); ``mask``: ``(T, B)``, 1 on real words;
        ``states``: ``[s0]`` with ``s0`` of shape ``(H, B)``; ``reset``: ``(T, B)``, 1 where a sentence
        starts (the state is multiplied by ``1 - reset_t`` first, so it starts from zero); ``dropout``: masks
        for :meth:`dropout_sites`, ``(T, H, B)`` each. The same model as the per-sentence graph, arranged for
        speed: the input lookup ``U[:, x_t]`` for all steps and the output layer for all steps are each one
        large operation outside ``scan``; only ``W s_{t-1}`` runs in the loop. Full BPTT over the ``T`` steps
        given (the trainer cuts the streams into chunks for truncated BPTT).
        """
        top, final = self._batched_top(x, states, reset, dropout)
        return output_cost(top, self.V, None, y, mask), final

    def batched_nll(self, x, y, states, reset=None):
        """``-log p`` of every target of a ``(T, B)`` batch, shape ``(T, B)``, and the final state (for scoring)."""
        top, final = self._batched_top(x, states, reset)
        rows = top.dimshuffle(0, 2, 1).reshape((-1, self.hidden_dim))
        return output_nll(rows, self.V, None, y.flatten()).reshape(x.shape), final

    def _batched_top(self, x, states, reset=None, dropout=None):
        """The recurrence of :meth:`batched_cost`: the states fed to the output layer ``(T, H, B)``, and ``[s_T]``."""
        dropout = dropout or {}
        T, B, H = x.shape[0], x.shape[1], self.hidden_dim
        inputs = self.U.T[x.flatten()].reshape((T, B, H)).dimshuffle(0, 2, 1)  # (T, H, B): U[:, x_t]
        if "input" in dropout:
            inputs = inputs * dropout["input"]
        keep = 1 - (reset if reset is not None else pt.zeros(x.shape, dtype=self.dtype))

        def step(u_t, keep_t, s_prev, W):
            return pt.tanh(u_t + pt.dot(W, s_prev * keep_t.dimshuffle("x", 0)))

        s = pytensor.scan(step, sequences=[inputs, keep], outputs_info=[states[0]], non_sequences=[self.W],
                          strict=True, return_updates=False)        # (T, H, B)
        top = s * dropout["output"] if "output" in dropout else s
        return top, [s[-1]]


def gradient_check_theano(model, x, y, h=0.001, error_threshold=0.01, log=print):
    """Gradient check of a compiled model: ``model.bptt`` against central finite differences.

    Same procedure and messages as ``RNNNumpy.gradient_check`` (see ``rnn_theano.gradcheck``). Use a
    float64 model, and ``bptt_truncate=-1`` or a sentence of at most ``bptt_truncate`` words: the finite
    differences always see the full loss. (The tutorial set ``model.bptt_truncate = 1000`` at this point,
    which has no effect once the graph is built.)
    """
    return gradient_check(model, x, y, h=h, error_threshold=error_threshold, log=log)
