"""What the GRU and the LSTM language models have in common.

Both models of Part 4 are the same machine with a different recurrent cell in the middle::

    word index x_t --E--> x_e (D)  --layer 1--> s1_t (H) --layer 2--> s2_t (H) --V, c--> softmax o_t (C)

- **Embedding.** ``E`` is a D x C matrix; column ``x_t`` is the vector of word ``x_t``. Looking a column up
  is the same as multiplying ``E`` by a one-hot vector, only cheaper.
- **Stacked recurrent layers.** Layer 1 reads the word vector, layer ``l > 1`` reads the hidden state of
  layer ``l - 1`` at the same time step. Every layer has its own input weights ``U``, recurrent weights
  ``W`` and biases ``b``, one block per gate (3 for a GRU: z, r, h; 4 for an LSTM: i, f, o, g).
- **Output layer.** ``o_t = softmax(V s_t + c)`` over the C words of the vocabulary, read from the top
  layer's state.
- **Loss.** Cross-entropy summed over the words of a sentence, ``L = -sum_t log o_t[y_t]``.
- **Training.** ``pytensor.grad`` differentiates ``L`` through ``scan`` (backpropagation through time), and
  RMSprop scales each step by a running average of the squared gradients.

This module holds all of that; a subclass only says how many gate blocks its cell has, how to
initialise them and what one time step of one layer computes (:meth:`RecurrentLM.cell`).

Parameter layout
----------------
The tutorial's GRU has ``embed_dim == hidden_dim``, so the input weights of every layer are H x H and it
stacks the blocks of all layers into one array: ``U`` and ``W`` of shape ``(3 * layers, H, H)`` and ``b`` of
shape ``(3 * layers, H)``; rows 0-2 are layer 1's z, r, h, rows 3-5 layer 2's. Whenever
``embed_dim == hidden_dim`` this code stores the weights exactly that way (the *stacked* layout), so the
default 2-layer GRU has the parameters E, U, W, b, V, c of the original and its files are interchangeable
with the tutorial's. When ``embed_dim != hidden_dim`` layer 1's ``U`` is H x D and cannot be stacked with
the others; then each layer gets its own arrays ``U1, W1, b1, U2, W2, b2, ...`` (the *per-layer* layout),
each with a leading axis of one block per gate.

RMSprop keeps one cache per parameter, named ``"m" + name`` (``mE``, ``mU``, ...). They are part of
:meth:`RecurrentLM.get_params` so a checkpoint resumes training exactly where it stopped.

Speed and ``bptt_truncate``
---------------------------
The tutorial looked up the word vector and computed the softmax inside the ``scan`` step. Here both
happen outside it, on whole sentences at once (one gather before the recurrence, one matrix product
after). With the default ``bptt_truncate=-1`` (full backpropagation, the tutorial's default for the GRU)
the result is identical and a training step is 2-3 times faster on the C backend (C = 8000, H = 128,
a 45-word sentence, float32: 42-48 ms against 112-132 ms for the tutorial's arrangement), because the
gradients of ``E`` and ``V`` are no longer accumulated into full-size buffers at every time step.
With a truncation ``k > 0`` the meaning differs in one point: ``scan(truncate_gradient=k)`` runs the
backward pass only over the last k steps, so in the tutorial's graph ``V`` and ``c`` learned only from the
last k words; here they learn from every word, while ``E``, ``U``, ``W`` and ``b`` still receive gradient only
from the last k steps in both versions.
"""
import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.tensor.special import log_softmax, softmax

from lmkit.backend import pytensor_mode
from lmkit.batched_output import output_cost, output_nll


def hard_sigmoid(x):
    """Theano's piecewise-linear sigmoid, ``clip(0.2 x + 0.5, 0, 1)``.

    It equals the logistic sigmoid at 0 (both are 0.5), has slope 0.2 there (the logistic's is 0.25), and
    saturates to exactly 0 below -2.5 and to exactly 1 above 2.5. ``theano.tensor.nnet.hard_sigmoid`` was
    removed in PyTensor, so it is written out here; the constants take the dtype of ``x`` so a float32
    graph stays float32.
    """
    x = pt.as_tensor_variable(x)
    slope = pt.constant(0.2, dtype=x.dtype)
    shift = pt.constant(0.5, dtype=x.dtype)
    return pt.clip(slope * x + shift, pt.constant(0, dtype=x.dtype), pt.constant(1, dtype=x.dtype))


def sigmoid(x):
    """The logistic sigmoid ``1 / (1 + exp(-x))``."""
    return pt.sigmoid(x)


# gate="..." chooses the squashing function of the gates (never of the candidate, which is always tanh).
GATES = {"hard": hard_sigmoid, "sigmoid": sigmoid}


class RecurrentLM:
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
        ``truncate_gradient`` of the ``scan``: -1 backpropagates through the whole sentence, ``k > 0``
        only through its last k steps (see the module notes). Fixed when the model is built.
    embed_dim : int or None
        Size D of the word vectors; ``None`` means D = H as in the tutorial's code.
    num_layers : int
        Number of stacked recurrent layers (the tutorial uses 2).
    gate : "hard" or "sigmoid"
        The gates' squashing function: Theano's hard sigmoid or the logistic sigmoid.
    mode : str or None
        Backend name for :func:`lmkit.backend.pytensor_mode` (``"c"``, ``"numba"``, ``"jax"``, ``"python"``).
    dtype : str or None
        Float type of weights and computation; default ``pytensor.config.floatX``.
    tie_weights : bool
        Use the embedding as the output layer too (``V = E^T``, as in Press & Wolf 2017), which needs
        ``embed_dim == hidden_dim``; the model then has no ``V`` of its own. Off in the tutorial's model.
    seed : None, int or numpy RandomState
        Source of the random initial weights. ``None`` draws from the global ``np.random`` (so
        ``np.random.seed(...)`` before construction reproduces a run, as in the tutorial).

    The functions are compiled lazily, each on its first call, so building a model (for example to load
    a checkpoint into it) costs nothing until it is used.
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

        # The stacked layout (the tutorial's) fits whenever every layer's input is H wide.
        self.stacked = self.embed_dim == self.hidden_dim
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
        self._graph = None
        self._functions = {}

    # ----------------------------------------------------------------------------------------------
    # Parameters
    # ----------------------------------------------------------------------------------------------
    @property
    def n_gates(self):
        return len(self.gate_names)

    def _shared(self, name, value):
        value = np.asarray(value, dtype=self.dtype)
        return pytensor.shared(value, name=name, shape=value.shape)  # static shapes: JAX needs them

    def recurrent_param_names(self):
        """Names of the recurrent weights: ``U, W, b`` (stacked) or ``U1..UL, W1..WL, b1..bL``."""
        if self.stacked:
            return ["U", "W", "b"]
        layers = range(1, self.num_layers + 1)
        return [f"U{l}" for l in layers] + [f"W{l}" for l in layers] + [f"b{l}" for l in layers]

    def param_shapes(self):
        """Expected shape of every parameter (caches have their parameter's shape)."""
        C, H, D, L, n = self.word_dim, self.hidden_dim, self.embed_dim, self.num_layers, self.n_gates
        shapes = {"E": (D, C)}
        if self.stacked:
            shapes.update(U=(n * L, H, H), W=(n * L, H, H), b=(n * L, H))
        else:
            for l in range(1, L + 1):
                shapes[f"U{l}"] = (n, H, D if l == 1 else H)
            for l in range(1, L + 1):
                shapes[f"W{l}"] = (n, H, H)
            for l in range(1, L + 1):
                shapes[f"b{l}"] = (n, H)
        if not self.tie_weights:
            shapes["V"] = (C, H)
        shapes["c"] = (C,)
        return shapes

    def _initial_params(self, rng):
        """Random weights as in the tutorial.

        E ~ U(-1/sqrt(C), 1/sqrt(C)) (U(-1/sqrt(H), 1/sqrt(H)) when tied); U, W, V ~ U(-1/sqrt(H), 1/sqrt(H)); biases from
        :meth:`initial_bias` (zeros for the GRU); c = 0. Arrays are drawn in the tutorial's order
        E, U, W, V, so with the default sizes and the same ``np.random`` seed the initial weights are the
        tutorial's.
        """
        shapes = self.param_shapes()
        # A tied E is the output layer too, so it starts at the output layer's scale 1/sqrt(H).
        e_bound = np.sqrt(1.0 / (self.hidden_dim if self.tie_weights else self.word_dim))
        h_bound = np.sqrt(1.0 / self.hidden_dim)
        drawn = {"E": rng.uniform(-e_bound, e_bound, shapes["E"])}
        u_names = [n for n in self.recurrent_param_names() if n.startswith("U")]
        w_names = [n for n in self.recurrent_param_names() if n.startswith("W")]
        b_names = [n for n in self.recurrent_param_names() if n.startswith("b")]
        for name in u_names + w_names:
            drawn[name] = rng.uniform(-h_bound, h_bound, shapes[name])
        V = rng.uniform(-h_bound, h_bound, (self.word_dim, self.hidden_dim))  # drawn even if tied: same RNG order
        for name in b_names:
            layers = self.num_layers if self.stacked else 1
            drawn[name] = np.tile(self.initial_bias(), (layers, 1))
        drawn["V"] = V
        drawn["c"] = np.zeros(shapes["c"])
        return {name: drawn[name] for name in shapes}  # a tied model drops V

    @property
    def output_weights(self):
        """``V`` (C x H), or ``E^T`` when the weights are tied."""
        return self.E.T if self.tie_weights else self.V

    def initial_bias(self):
        """Initial biases of one layer, shape ``(n_gates, H)``; zeros unless a subclass says otherwise."""
        return np.zeros((self.n_gates, self.hidden_dim))

    def layer_weights(self, weights):
        """Split recurrent weights into one ``(U, W, b)`` triple per layer.

        ``weights`` maps the names of :meth:`recurrent_param_names` to arrays or symbolic variables. In
        the stacked layout layer ``l`` (0-based) owns blocks ``n*l`` to ``n*l + n - 1``; each returned
        ``U`` has one block per gate on its first axis, so ``U[0]`` is the first gate's input matrix.
        """
        n = self.n_gates
        if self.stacked:
            U, W, b = weights["U"], weights["W"], weights["b"]
            return [(U[n * l:n * (l + 1)], W[n * l:n * (l + 1)], b[n * l:n * (l + 1)])
                    for l in range(self.num_layers)]
        return [(weights[f"U{l}"], weights[f"W{l}"], weights[f"b{l}"]) for l in range(1, self.num_layers + 1)]

    def hparams(self):
        """Constructor arguments that rebuild this architecture (JSON-able; for checkpoints)."""
        return {"word_dim": self.word_dim, "hidden_dim": self.hidden_dim, "embed_dim": self.embed_dim,
                "num_layers": self.num_layers, "bptt_truncate": self.bptt_truncate, "gate": self.gate,
                **({"tie_weights": True} if self.tie_weights else {})}

    def get_params(self):
        """Copies of all weights and RMSprop caches as numpy arrays, name -> array."""
        return {name: var.get_value() for name, var in {**self.params, **self.caches}.items()}

    def set_params(self, params, with_cache=True):
        """Replace the weights (and by default the RMSprop caches) with arrays from ``params``.

        Every name must be present and have the expected shape, and no other name may appear;
        otherwise ``ValueError`` is raised and nothing is changed. Values are cast to the model's dtype.
        With ``with_cache=False`` the caches are not read (``m...`` keys are ignored) and are reset to zero,
        which is right for weights that come without them, such as the tutorial's files.
        """
        expected = dict(self.param_shapes())
        if with_cache:
            expected.update({"m" + name: shape for name, shape in self.param_shapes().items()})
        given = {k: v for k, v in params.items() if with_cache or k not in self.caches}
        missing = [k for k in expected if k not in given]
        unexpected = [k for k in given if k not in expected]
        if missing:
            raise ValueError(f"missing parameter(s) {', '.join(missing)}")
        if unexpected:
            raise ValueError(f"unexpected parameter(s) {', '.join(unexpected)}")
        arrays = {}
        for name, shape in expected.items():
            value = np.asarray(given[name])
            if value.shape != shape:
                raise ValueError(f"parameter {name} has shape {value.shape}, expected {shape}")
            if not (np.issubdtype(value.dtype, np.floating) or np.issubdtype(value.dtype, np.integer)):
                raise ValueError(f"parameter {name} has non-numeric dtype {value.dtype}")
            arrays[name] = value.astype(self.dtype)
        for name, value in arrays.items():
            getattr(self, name).set_value(value)
        if not with_cache:
            for cache in self.caches.values():
                cache.set_value(np.zeros_like(cache.get_value()))

    # ----------------------------------------------------------------------------------------------
    # The graph
    # ----------------------------------------------------------------------------------------------
    def cell(self, x_in, prev, U, W, b):
        """One time step of one layer: new states (a tuple like ``state_names``) from input and old states."""
        raise NotImplementedError

    def _hidden_states(self, x_emb):
        """Run the stacked recurrence over a sentence of word vectors ``x_emb`` (T x D); top states, T x H."""
        names = self.recurrent_param_names()
        n_states = len(self.state_names) * self.num_layers

        def step(x_t, *args):
            # scan passes: the current word vector, every layer's previous states, then the weights.
            prev, weights = args[:n_states], dict(zip(names, args[n_states:]))
            new_states, layer_input = [], x_t
            for l, (U, W, b) in enumerate(self.layer_weights(weights)):
                k = len(self.state_names)
                states = self.cell(layer_input, prev[l * k:(l + 1) * k], U, W, b)
                new_states.extend(states)
                layer_input = states[-1]  # the next layer reads this layer's hidden state s_t
            return new_states

        zeros = pt.zeros((self.hidden_dim,), dtype=self.dtype)
        states = pytensor.scan(step, sequences=x_emb, outputs_info=[zeros] * n_states,
                               non_sequences=[self.params[n] for n in names], strict=True,
                               truncate_gradient=self.bptt_truncate, return_list=True,
                               return_updates=False)
        return states[-1]  # the top layer's hidden state at every step

    # ----------------------------------------------------------------------------------------------
    # The batched graph (lmkit.trainer)
    # ----------------------------------------------------------------------------------------------
    def trainable_params(self):
        """The shared variables the batched trainer updates, by name (E, U, W, b, V, c)."""
        return dict(self.params)

    def num_states(self):
        """How many ``(H, B)`` state matrices the stacked recurrence carries."""
        return len(self.state_names) * self.num_layers

    def dropout_sites(self):
        """Where the batched trainer may apply dropout: ``(name, width)`` of each activation it can mask.

        ``input`` is the word vector fed to layer 1, ``layer<l>`` the state layer ``l`` hands to layer
        ``l + 1``, ``output`` the top state fed to the softmax.
        """
        H = self.hidden_dim
        return ([("input", self.embed_dim)] + [(f"layer{l}", H) for l in range(1, self.num_layers)]
                + [("output", H)])

    def batched_cost(self, x, y, mask, states, reset=None, dropout=None):
        """Summed cross-entropy of a ``(T, B)`` batch, and the final states, for the batched trainer.

        ``x``, ``y``: ``(T, B)`` word indices (time-major); ``mask``: ``(T, B)``, 1 on real words;
        ``states``: :meth:`num_states` matrices of shape ``(H, B)`` to start from; ``reset``: ``(T, B)``, 1
        where a sentence starts: every state is multiplied by ``1 - reset_t`` before step t, so each
        sentence starts from zero as in the per-sentence graph (:mod:`lmkit.data.batching`). ``dropout``
        maps names of :meth:`dropout_sites` to ``(T, width, B)`` masks that multiply those activations.
        The cell is the same :meth:`cell` as in the per-sentence graph: states are kept as ``(H, B)``
        columns, so ``U x`` and ``W s`` are matrix products over the whole batch and the biases broadcast
        along the batch axis.
        """
        top, final = self._batched_top(x, states, reset, dropout)
        return output_cost(top, self.output_weights, self.c, y, mask), final

    def batched_nll(self, x, y, states, reset=None):
        """``-log p`` of every target of a ``(T, B)`` batch, shape ``(T, B)``, and the final states (for scoring)."""
        top, final = self._batched_top(x, states, reset)
        rows = top.dimshuffle(0, 2, 1).reshape((-1, self.hidden_dim))
        return output_nll(rows, self.output_weights, self.c, y.flatten()).reshape(x.shape), final

    def _batched_top(self, x, states, reset=None, dropout=None):
        """The stacked recurrence of :meth:`batched_cost`: the top layer's states ``(T, H, B)`` and the final states."""
        names = self.recurrent_param_names()
        k = len(self.state_names)
        dropout = dropout or {}
        T, B = x.shape[0], x.shape[1]
        x_emb = self.E.T[x.flatten()].reshape((T, B, self.embed_dim)).dimshuffle(0, 2, 1)  # (T, D, B)
        if "input" in dropout:
            x_emb = x_emb * dropout["input"]
        keep = 1 - (reset if reset is not None else pt.zeros(x.shape, dtype=self.dtype))  # 0 at a sentence's start
        between = [dropout[f"layer{l}"] for l in range(1, self.num_layers) if f"layer{l}" in dropout]
        if between and len(between) != self.num_layers - 1:
            raise ValueError("dropout between layers needs a mask for every layer boundary")

        def step(x_t, keep_t, *args):
            masks, args = args[:len(between)], args[len(between):]
            prev, weights = args[:len(states)], dict(zip(names, args[len(states):]))
            prev = [p * keep_t.dimshuffle("x", 0) for p in prev]  # s_{t-1} <- (1 - reset_t) s_{t-1}
            new_states, layer_input = [], x_t
            for l, (U, W, b) in enumerate(self.layer_weights(weights)):
                out = self.cell(layer_input, prev[l * k:(l + 1) * k], U, W, b.dimshuffle(0, 1, "x"))
                new_states.extend(out)
                layer_input = out[-1] * masks[l] if l < len(masks) else out[-1]
            return new_states

        seqs = pytensor.scan(step, sequences=[x_emb, keep, *between], outputs_info=list(states),
                             non_sequences=[self.params[n] for n in names], strict=True,
                             return_list=True, return_updates=False)
        top = seqs[-1]                                                   # (T, H, B)
        if "output" in dropout:
            top = top * dropout["output"]
        return top, [s[-1] for s in seqs]

    def _build_graph(self):
        """The symbolic graph shared by all compiled functions (built once, on first use)."""
        if self._graph is not None:
            return self._graph
        x = pt.ivector("x")  # word indices of the input sentence
        y = pt.ivector("y")  # the next word at every position
        # x_e[t] = E[:, x_t], looked up for the whole sentence before the recurrence.
        # x_e[t] = E[:, x_t] as rows, T x D. PyTensor 3.0.7 wrongly refuses the gradient of a one-row gather
        # ("Runtime broadcasting not allowed", fixed upstream in pytensor#2303), so a one-word sentence
        # would fail; gathering one extra row and dropping it keeps every gather at two rows or more.
        x_emb = self.E.T[pt.concatenate([x, x[:1]])][:-1]
        s = self._hidden_states(x_emb)  # T x H
        # o_t = softmax(V s_t + c), for all t at once.
        logits = pt.dot(s, self.output_weights.T) + self.c  # T x C
        o = softmax(logits, axis=-1)
        # L = -sum_t log o_t[y_t], from log_softmax: a probability that underflows gives no log(0).
        cost = -pt.sum(log_softmax(logits, axis=-1)[pt.arange(x.shape[0]), y])
        params = list(self.params.values())
        grads = pytensor.grad(cost, params)
        self._graph = {"x": x, "y": y, "o": o, "prediction": pt.argmax(logits, axis=-1),
                       "cost": cost, "grads": grads}
        return self._graph

    def _rmsprop_updates(self, grads, learning_rate, decay):
        """RMSprop as in the tutorial, for every parameter p with gradient g and cache m::

            m <- decay * m + (1 - decay) * g**2
            p <- p - learning_rate * g / sqrt(m + 1e-6)

        The step uses the cache already updated with this step's gradient.
        """
        eps = np.asarray(1e-6, dtype=self.dtype)
        one = np.asarray(1, dtype=self.dtype)
        updates = []
        for (name, p), g in zip(self.params.items(), grads):
            m = self.caches["m" + name]
            m_new = decay * m + (one - decay) * g ** 2
            updates.append((p, p - learning_rate * g / pt.sqrt(m_new + eps)))
            updates.append((m, m_new))
        return updates

    def _function(self, name):
        """Compile (once) and return the PyTensor function called ``name``."""
        if name in self._functions:
            return self._functions[name]
        g = self._build_graph()
        x, y = g["x"], g["y"]
        # allow_input_downcast: Python floats become the model's dtype, Python ints int32.
        kwargs = {"mode": pytensor_mode(self.mode), "allow_input_downcast": True}
        if name == "predict":
            fn = pytensor.function([x], g["o"], name="predict", **kwargs)
        elif name == "predict_class":
            fn = pytensor.function([x], g["prediction"], name="predict_class", **kwargs)
        elif name == "ce_error":
            fn = pytensor.function([x, y], g["cost"], name="ce_error", **kwargs)
        elif name == "bptt":
            fn = pytensor.function([x, y], g["grads"], name="bptt", **kwargs)
        elif name == "sgd_step":
            learning_rate = pt.scalar("learning_rate", dtype=self.dtype)
            decay = pt.scalar("decay", dtype=self.dtype)
            # (PyTensor dropped inputs with default values; the default decay=0.9 lives in sgd_step.)
            fn = pytensor.function([x, y, learning_rate, decay], [],
                                   updates=self._rmsprop_updates(g["grads"], learning_rate, decay),
                                   name="sgd_step", **kwargs)
        else:
            raise KeyError(name)
        self._functions[name] = fn
        return fn

    def compile(self, *names):
        """Compile the named functions now (all five without arguments) instead of on first use."""
        for name in names or ("predict", "predict_class", "ce_error", "bptt", "sgd_step"):
            self._function(name)
        return self

    # ----------------------------------------------------------------------------------------------
    # The tutorial's interface
    # ----------------------------------------------------------------------------------------------
    @staticmethod
    def _indices(x, what="x"):
        x = np.asarray(x)
        if x.ndim != 1 or x.size == 0:
            raise ValueError(f"{what} must be a non-empty 1-d sequence of word indices, got shape {x.shape}")
        return x

    def predict(self, x):
        """Next-word distributions ``o`` (T x C): row t is ``softmax(V s_t + c)`` after reading ``x[:t+1]``."""
        return self._function("predict")(self._indices(x))

    def predict_class(self, x):
        """The most probable next word after each prefix of ``x`` (T indices)."""
        return self._function("predict_class")(self._indices(x))

    def predict_proba(self, x):
        """Same as :meth:`predict`: the interface lmkit's sampling and scoring code relies on."""
        return np.asarray(self.predict(x))

    def ce_error(self, x, y):
        """Cross-entropy of one sentence, summed over its words: ``-sum_t log o_t[y_t]``."""
        return self._function("ce_error")(self._indices(x), self._indices(y, "y"))

    def bptt(self, x, y):
        """Gradients of :meth:`ce_error` for every parameter, in the order of ``self.params``
        (``dE, dU, dW, db, dV, dc`` in the stacked layout, as in the tutorial)."""
        return self._function("bptt")(self._indices(x), self._indices(y, "y"))

    def sgd_step(self, x, y, learning_rate, decay=0.9):
        """One RMSprop update on one sentence (the tutorial trains with ``learning_rate=0.001``)."""
        self._function("sgd_step")(self._indices(x), self._indices(y, "y"), learning_rate, decay)

    def calculate_total_loss(self, X, Y):
        """Summed cross-entropy over sentences ``X`` with targets ``Y``."""
        return float(np.sum([self.ce_error(x, y) for x, y in zip(X, Y)]))

    def calculate_loss(self, X, Y):
        """Mean cross-entropy per word (ln C for a model that guesses uniformly)."""
        num_words = int(np.sum([len(y) for y in Y]))
        return self.calculate_total_loss(X, Y) / num_words

    def __repr__(self):
        return (f"{type(self).__name__}(word_dim={self.word_dim}, hidden_dim={self.hidden_dim}, "
                f"embed_dim={self.embed_dim}, num_layers={self.num_layers}, "
                f"bptt_truncate={self.bptt_truncate}, gate={self.gate!r}, dtype={self.dtype!r})")
