"""What the GRU and the LSTM language models have in common.

Both models of Part 4 are the same machine with a different recurrent cell in the middle::

    word index x_t --E--> x_e (D)  --layer 1--> s1_t (H) --layer 2--> s2_t (H) --V, c--> softmax o_t (C)

- **Embedding.** ``x_e = E[:, x_t]``: ``E`` is a D x C matrix and column ``x_t`` is the vector of word
  ``x_t`` (the same as multiplying ``E`` by a one-hot vector, only cheaper).
- **Stacked recurrent layers.** ``(states_l)_t = cell(input_l, (states_l)_{t-1})``: layer 1 reads the word
  vector, layer ``l > 1`` the hidden state of layer ``l - 1`` at the same time step. The cell's equations
  are in ``gru_theano.py`` and ``lstm_theano.py``; each layer has its own weights ``U``, ``W``, ``b``
  (their layout: :mod:`gru_theano.layout`).
- **Output layer.** ``o_t = softmax(V s_t + c)`` over the C words of the vocabulary, read from the top
  layer's state.
- **Loss.** Cross-entropy summed over the words of a sentence, ``L = -sum_t log o_t[y_t]``.
- **Training.** ``pytensor.grad`` differentiates ``L`` through ``scan`` (backpropagation through time),
  and RMSprop (:func:`lmkit.optim.rmsprop_updates`) scales each step by a running average of the squared
  gradients.

The file reads in that order: the gate functions, the model's constructor, the one step of all layers
(:meth:`RecurrentLM.step_layers`), the per-sentence graph, the tutorial's methods, then the batched graph the
project's trainer uses, which runs the same step on a whole batch. A subclass only says how many gate
blocks its cell has, how to initialise them and what one time step of one layer computes
(:meth:`RecurrentLM.cell`).

Unlike the tutorial, the per-sentence graph looks the word vectors up before the ``scan`` and computes the
softmax after it, on the whole sentence at once: the same result with full BPTT (the default), and a
faster step (``gru_theano/README.md``, Speed). What it changes with a truncation ``k > 0`` is explained
with everything else about ``bptt_truncate`` in ``rnn_theano/README.md``, Truncation.
"""
import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.tensor.special import log_softmax, softmax

from lmkit.backend import pytensor_mode
from lmkit.batched import BatchedLM
from lmkit.compiled import CompiledModel
from lmkit.gates import GATES
from lmkit.optim import rmsprop_updates
from lmkit.sentences import as_indices

from .layout import ParameterLayout


def recurrent_products(W, s_prev):
    """``[W_0 s_prev, ..., W_(n-1) s_prev]`` as one ``(n, H, ...)`` tensor, from one matrix product.

    ``W`` holds n blocks ``(n, H, H)``; ``s_prev`` is ``(H,)`` (per-sentence graph) or ``(H, B)`` (batched).
    The blocks are stacked into one ``(n H, H)`` matrix (a reshape, no copy) and multiplied once: in JAX on
    one CPU core, the batched LSTM's step (C=8000, H=128, B=32) took 1.7% less time than with four products.
    """
    n, H = W.shape[0], W.shape[-1]
    products = pt.dot(W.reshape((n * H, H)), s_prev)
    return products.reshape((n, H, *s_prev.shape[1:]), ndim=s_prev.ndim + 1)


class RecurrentLM(ParameterLayout, CompiledModel, BatchedLM):
    """A word-level language model: embedding, stacked recurrent layers, softmax output, RMSprop.

    Subclasses set ``model_type`` (the checkpoint registry name), ``gate_names`` (one letter per block
    of ``U``, ``W`` and ``b``), ``state_names`` (what the cell carries from step to step; the last one is
    the hidden state the next layer and the output read), ``default_gate``, and implement :meth:`cell`.

    Arguments
    ---------
    word_dim : int
        Vocabulary size C; word indices run from 0 to C - 1.
    hidden_dim : int
        Size H of every layer's hidden state.
    bptt_truncate : int
        ``truncate_gradient`` of the ``scan``: -1 (full BPTT) or ``k > 0`` (``rnn_theano/README.md``,
        Truncation). Fixed when the model is built.
    embed_dim : int or None
        Size D of the word vectors; ``None`` means D = H as in the tutorial's code.
    num_layers : int
        Number of stacked recurrent layers (the tutorial uses 2).
    gate : "hard", "sigmoid" or None
        The gates' squashing function: Theano's hard sigmoid or the logistic sigmoid; ``None`` takes the
        class's ``default_gate`` (``"hard"`` for the GRU, ``"sigmoid"`` for the LSTM).
    mode : str or None
        Backend name for :func:`lmkit.backend.pytensor_mode` (``"c"``, ``"numba"``, ``"jax"``, ``"python"``).
    dtype : str or None
        Float type of weights and computation; default ``pytensor.config.floatX``.
    seed : None, int or numpy RandomState
        Source of the random initial weights. ``None`` draws from the global ``np.random`` (so
        ``np.random.seed(...)`` before construction reproduces a run, as in the tutorial).
    tie_weights : bool
        Use the embedding as the output layer too (``V = E^T``, as in Press & Wolf 2017), which needs
        ``embed_dim == hidden_dim``; the model then has no ``V`` of its own. Off in the tutorial's model.

    The functions are compiled lazily, each on its first call (:mod:`lmkit.compiled`), so building a model
    (for example to load a checkpoint into it) costs nothing until it is used.
    """

    model_type = None
    gate_names = ()
    state_names = ("s",)
    default_gate = "sigmoid"

    def __init__(self, word_dim, hidden_dim=128, bptt_truncate=-1, embed_dim=None, num_layers=2,
                 gate=None, mode=None, dtype=None, seed=None, tie_weights=False):
        gate = self.default_gate if gate is None else gate
        embed_dim = hidden_dim if embed_dim is None else embed_dim
        for name, value in (("word_dim", word_dim), ("hidden_dim", hidden_dim),
                            ("embed_dim", embed_dim), ("num_layers", num_layers)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(bptt_truncate, (int, np.integer)) or bptt_truncate == 0 or bptt_truncate < -1:
            raise ValueError(f"bptt_truncate must be -1 (no truncation) or a positive integer, got {bptt_truncate!r}")
        if gate not in GATES:
            raise ValueError(f"unknown gate {gate!r}; choose one of {', '.join(GATES)}")
        if tie_weights and embed_dim != hidden_dim:
            raise ValueError(f"tie_weights needs embed_dim == hidden_dim, got {embed_dim} and {hidden_dim}")
        pytensor_mode(mode)  # fail now, not at the first call, on an unknown backend name

        self.word_dim = int(word_dim)
        self.hidden_dim = int(hidden_dim)
        self.embed_dim = int(embed_dim)
        self.num_layers = int(num_layers)
        self.bptt_truncate = int(bptt_truncate)
        self.gate = gate
        self.gate_fn = GATES[gate]
        self.tie_weights = bool(tie_weights)
        self.mode = mode
        self.dtype = str(np.dtype(dtype or pytensor.config.floatX))
        if not np.issubdtype(np.dtype(self.dtype), np.floating):
            raise ValueError(f"dtype must be a float type, got {self.dtype}")

        if seed is None:
            rng = np.random
        elif isinstance(seed, np.random.RandomState):
            rng = seed
        else:
            rng = np.random.RandomState(seed)
        # name -> pytensor shared variable, in the order of bptt()'s gradients: E, U, W, b, V, c.
        self.params = {name: self._shared(name, value) for name, value in self._initial_params(rng).items()}
        self.caches = {"m" + name: self._shared("m" + name, np.zeros_like(p.get_value()))
                       for name, p in self.params.items()}
        for name, var in {**self.params, **self.caches}.items():
            setattr(self, name, var)  # model.E, model.mE, ... as in the tutorial

    def _shared(self, name, value):
        value = np.asarray(value, dtype=self.dtype)
        return pytensor.shared(value, name=name, shape=value.shape)  # static shapes: JAX needs them

    def __repr__(self):
        return (f"{type(self).__name__}(word_dim={self.word_dim}, hidden_dim={self.hidden_dim}, "
                f"embed_dim={self.embed_dim}, num_layers={self.num_layers}, "
                f"bptt_truncate={self.bptt_truncate}, gate={self.gate!r}, dtype={self.dtype!r})")

    # ----------------------------------------------------------------------------------------------
    # One time step, shared by both graphs
    # ----------------------------------------------------------------------------------------------
    def cell(self, x_in, prev, U, W, b, gates=None, projected=None):
        """One time step of one layer: new states (a tuple like ``state_names``) from input and old states;
        ``gates`` (a dict), if given, receives the gate activations by name. ``projected``, if given, holds
        the input products ``U_i x`` of every block already computed (:meth:`project`), and ``x_in`` and
        ``U`` are not read."""
        raise NotImplementedError

    def step_layers(self, x_t, prev, weights, masks=(), gates=None):
        """One time step of every layer, bottom to top; returns the new states of all layers, layer 1's first.

        ``prev`` holds every layer's previous states (``state_names`` per layer), ``weights`` maps the names
        of :meth:`recurrent_param_names` to the recurrent weights. In the per-sentence graph ``x_t`` is one
        word vector ``(D,)`` and the states are ``(H,)``; in the batched graph they are ``(D, B)`` and
        ``(H, B)``, one sentence per column, and the biases broadcast along the batch axis. ``masks`` (batched
        graph only) multiply the state each layer hands to the next: dropout between the layers. ``gates``,
        a list, receives one dict of gate activations per layer (for looking inside: ``lmkit.inspection``).
        """
        k = len(self.state_names)
        new_states, layer_input = [], x_t
        for l, (U, W, b) in enumerate(self.layer_weights(weights)):
            if x_t.ndim == 2:
                b = b.dimshuffle(0, 1, "x")
            layer_gates = {}
            states = self.cell(layer_input, prev[l * k:(l + 1) * k], U, W, b, layer_gates)
            if gates is not None:
                gates.append(layer_gates)
            new_states.extend(states)
            layer_input = states[-1] * masks[l] if l < len(masks) else states[-1]  # what layer l + 1 reads
        return new_states

    @property
    def output_weights(self):
        """``V`` (C x H), or ``E^T`` when the weights are tied."""
        return self.E.T if self.tie_weights else self.V

    # ----------------------------------------------------------------------------------------------
    # The per-sentence graph
    # ----------------------------------------------------------------------------------------------
    def _hidden_states(self, x_emb, mask):
        """Run the stacked recurrence over a sentence of word vectors ``x_emb`` (T x D); top states, T x H.
        ``mask`` is 1 on the sentence's words and 0 on padding, where the states stay as they were."""
        names = self.recurrent_param_names()
        n_states = self.num_states()

        def sentence_step(x_t, m_t, *args):
            # scan passes: the current word vector and mask, every layer's previous states, then the weights.
            prev = args[:n_states]
            new = self.step_layers(x_t, prev, dict(zip(names, args[n_states:])))
            return [m_t * s + (1 - m_t) * p for s, p in zip(new, prev)]   # a padded step keeps the states

        zeros = pt.zeros((self.hidden_dim,), dtype=self.dtype)
        states = pytensor.scan(sentence_step, sequences=[x_emb, mask], outputs_info=[zeros] * n_states,
                               non_sequences=[self.params[n] for n in names], strict=True,
                               truncate_gradient=self.bptt_truncate, return_list=True,
                               return_updates=False)
        return states[-1]  # the top layer's hidden state at every step

    def _build_graph(self, length=None):
        """``name -> (inputs, outputs, updates)`` of the five compiled functions (see :mod:`lmkit.compiled`)."""
        # Word indices of the input sentence and the next word at every position: any length, or ``length``
        # words (JAX: lmkit.compiled); the mask is 1 on the sentence's words, 0 on padding.
        x = pt.tensor("x", dtype="int32", shape=(length,))
        y = pt.tensor("y", dtype="int32", shape=(length,))
        mask = pt.tensor("mask", dtype=self.dtype, shape=(length,))
        # x_e[t] = E[:, x_t] as rows, T x D, looked up for the whole sentence before the recurrence.
        # PyTensor 3.0.7 wrongly refuses the gradient of a one-row gather ("Runtime broadcasting not
        # allowed", fixed upstream in pytensor#2303), so a one-word sentence would fail; gathering one extra
        # row and dropping it keeps every gather at two rows or more.
        x_emb = self.E.T[pt.concatenate([x, x[:1]])][:-1]
        s = self._hidden_states(x_emb, mask)  # T x H
        # o_t = softmax(V s_t + c), for all t at once.
        logits = pt.dot(s, self.output_weights.T) + self.c  # T x C
        o = softmax(logits, axis=-1)
        # L = -sum_t log o_t[y_t], from log_softmax: a probability that underflows gives no log(0).
        cost = -pt.sum(log_softmax(logits, axis=-1)[pt.arange(x.shape[0]), y] * mask)
        params = list(self.params.values())
        grads = pytensor.grad(cost, params)
        learning_rate = pt.scalar("learning_rate", dtype=self.dtype)
        # (PyTensor dropped inputs with default values; the default decay=0.9 lives in sgd_step.)
        decay = pt.scalar("decay", dtype=self.dtype)
        caches = [self.caches["m" + name] for name in self.params]
        eps = np.asarray(1e-6, dtype=self.dtype)
        updates = rmsprop_updates(params, caches, grads, learning_rate, decay, eps)
        return {
            "predict": ([x, mask], o, None),
            "predict_class": ([x, mask], pt.argmax(logits, axis=-1), None),
            "ce_error": ([x, y, mask], cost, None),
            "bptt": ([x, y, mask], grads, None),
            "sgd_step": ([x, y, mask, learning_rate, decay], [], updates),
        }

    # ----------------------------------------------------------------------------------------------
    # The tutorial's methods
    # ----------------------------------------------------------------------------------------------
    # Inputs are checked by lmkit.sentences.as_indices; an empty sentence has no outputs, loss 0, zero
    # gradients, and an RMSprop step on it changes nothing (not even the caches).

    def predict(self, x):
        """Next-word distributions ``o`` (T x C): row t is ``softmax(V s_t + c)`` after reading ``x[:t+1]``."""
        x = as_indices(x, self.word_dim)
        if len(x) == 0:
            return np.zeros((0, self.word_dim), dtype=self.dtype)
        o, pad = self._run("predict", x)
        return np.asarray(o)[pad:]

    def predict_class(self, x):
        """The most probable next word after each prefix of ``x`` (T indices)."""
        x = as_indices(x, self.word_dim)
        if len(x) == 0:
            return np.zeros(0, dtype=np.int64)
        predicted, pad = self._run("predict_class", x)
        return np.asarray(predicted)[pad:]

    def predict_proba(self, x):
        """Same as :meth:`predict`: the interface lmkit's sampling and scoring code relies on."""
        return np.asarray(self.predict(x))

    def ce_error(self, x, y):
        """Cross-entropy of one sentence, summed over its words: ``-sum_t log o_t[y_t]``."""
        x, y = self._xy(x, y)
        return float(self._run("ce_error", x, y)[0]) if len(x) else 0.0

    def bptt(self, x, y):
        """Gradients of :meth:`ce_error` for every parameter, in the order of ``self.params``
        (``dE, dU, dW, db, dV, dc`` in the stacked layout, as in the tutorial)."""
        x, y = self._xy(x, y)
        if len(x) == 0:
            return self._zero_gradients()
        return self._run("bptt", x, y)[0]

    def sgd_step(self, x, y, learning_rate, decay=0.9):
        """One RMSprop update on one sentence (the tutorial trains with ``learning_rate=0.001``)."""
        x, y = self._xy(x, y)
        if len(x):
            self._run("sgd_step", x, y, learning_rate, decay)

    # calculate_total_loss(X, Y) and calculate_loss(X, Y): lmkit.sentences.SentenceLosses;
    # get_params(), set_params(params) and hparams(): gru_theano.layout.

    # ----------------------------------------------------------------------------------------------
    # The batched graph (lmkit.trainer)
    # ----------------------------------------------------------------------------------------------
    def trainable_params(self):
        """The shared variables by name, in the order of :meth:`bptt`'s gradients (E, U, W, b, V, c)."""
        return dict(self.params)

    def num_states(self):
        """How many state vectors (per-sentence graph) or ``(H, B)`` matrices (batched graph) the layers carry."""
        return len(self.state_names) * self.num_layers

    def dropout_sites(self):
        """Where the batched trainer may apply dropout: ``(name, width)`` of each activation it can mask.

        ``input`` is the word vector fed to layer 1, ``layer<l>`` the state layer ``l`` hands to layer
        ``l + 1``, ``output`` the top state fed to the softmax.
        """
        H = self.hidden_dim
        return ([("input", self.embed_dim)] + [(f"layer{l}", H) for l in range(1, self.num_layers)]
                + [("output", H)])

    def output_layer(self):
        """The output layer's weights (C x H: ``V``, or ``E^T`` when tied) and bias ``c``, symbolic."""
        return self.output_weights, self.c

    def batched_top(self, x, states, reset=None, dropout=None):
        """The stacked recurrence over a ``(T, B)`` batch (see :meth:`lmkit.batched.BatchedLM.batched_cost`): the
        top layer's states ``(T, H, B)`` and the final states.

        One layer at a time, as cuDNN and PyTorch run theirs: the layer's input products ``a_i = U_i x`` for
        all T steps and B streams are one matrix product before its ``scan`` (:meth:`project`), and only the
        recurrent part of the same :meth:`cell` runs inside, on ``(H, B)`` columns. Layer ``l + 1`` reads the
        states of layer ``l`` (after the dropout between them), so every layer's input is known before its
        loop starts. The word vectors of all steps are looked up before the first.
        """
        dropout = dropout or {}
        T, B = x.shape[0], x.shape[1]
        layer_input = self.E.T[x.flatten()].reshape((T, B, self.embed_dim)).dimshuffle(0, 2, 1)  # (T, D, B)
        if "input" in dropout:
            layer_input = layer_input * dropout["input"]
        keep = 1 - (reset if reset is not None else pt.zeros(x.shape, dtype=self.dtype))  # 0 at a sentence's start
        k = len(self.state_names)
        weights = self.layer_weights({n: self.params[n] for n in self.recurrent_param_names()})
        final = []
        for l, (U, W, b) in enumerate(weights):
            def layer_step(a_t, keep_t, *args):
                prev, W, b = args[:k], args[k], args[k + 1]
                prev = [p * keep_t.dimshuffle("x", 0) for p in prev]  # s_{t-1} <- (1 - reset_t) s_{t-1}
                return self.cell(None, prev, None, W, b.dimshuffle(0, 1, "x"), projected=a_t)

            seqs = pytensor.scan(layer_step, sequences=[self.project(layer_input, U), keep],
                                 outputs_info=list(states[l * k:(l + 1) * k]), non_sequences=[W, b], strict=True,
                                 return_list=True, return_updates=False)
            final += [s[-1] for s in seqs]
            layer_input = seqs[-1]                                        # (T, H, B): what layer l + 1 reads
            if l + 1 < self.num_layers and f"layer{l + 1}" in dropout:
                layer_input = layer_input * dropout[f"layer{l + 1}"]
        top = layer_input
        if "output" in dropout:
            top = top * dropout["output"]
        return top, final

    def project(self, inputs, U):
        """The input products ``U_i x_t`` of one layer for every step and stream at once: ``inputs`` ``(T, D, B)``,
        ``U`` ``(n, H, D)``; returns ``(T, n, H, B)``, one matrix product. The biases are added in :meth:`cell`,
        which reads the same way with and without ``projected``."""
        a = pt.tensordot(inputs, U, axes=[[1], [2]])                     # (T, B, n, H)
        return a.dimshuffle(0, 2, 3, 1)

    def input_table(self):
        """The embedding ``E``: column ``w`` is word ``w``'s vector (the step API of :mod:`lmkit.batched`)."""
        return self.E

    def next_states(self, inputs, states, gates=None):
        """One step of every layer for a batch (the step API of :mod:`lmkit.batched`): ``inputs`` is
        ``E[:, x_t]`` for every sentence, ``(D, B)``; returns the new states and the top layer's ``(H, B)``.
        ``gates`` (a list) receives each layer's gate activations."""
        names = self.recurrent_param_names()
        new = self.step_layers(inputs, states, {n: self.params[n] for n in names}, gates=gates)
        return new, new[-1]
