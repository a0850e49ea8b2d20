"""How a :class:`gru_theano.base.RecurrentLM` stores its weights: names, shapes, initial values, checks.

Every layer has input weights ``U``, recurrent weights ``W`` and biases ``b``, one block per gate (3 for a
GRU: z, r, h; 4 for an LSTM: i, f, o, g). The tutorial's GRU has ``embed_dim == hidden_dim``, so the input
weights of every layer are H x H and it stacks the blocks of all layers into one array: ``U`` and ``W`` of
shape ``(3 * layers, H, H)`` and ``b`` of shape ``(3 * layers, H)``; rows 0-2 are layer 1's z, r, h, rows
3-5 layer 2's. Whenever ``embed_dim == hidden_dim`` this code stores the weights exactly that way (the
*stacked* layout), so the default 2-layer GRU has the parameters E, U, W, b, V, c of the original and its
files are interchangeable with the tutorial's. When ``embed_dim != hidden_dim`` layer 1's ``U`` is H x D
and cannot be stacked with the others; then each layer gets its own arrays ``U1, W1, b1, U2, W2, b2, ...``
(the *per-layer* layout), each with a leading axis of one block per gate.

Around them: the embedding ``E`` (D x C), the output layer ``V`` (C x H; absent when ``tie_weights`` reads
it from ``E``) and its bias ``c`` (C). RMSprop keeps one cache per parameter, named ``"m" + name``
(``mE``, ``mU``, ...); :meth:`ParameterLayout.get_params` returns them too, so a checkpoint resumes training
exactly where it stopped.
"""
import numpy as np


class ParameterLayout:
    """The bookkeeping half of :class:`gru_theano.base.RecurrentLM` (a mixin).

    Reads the sizes ``word_dim``, ``hidden_dim``, ``embed_dim``, ``num_layers``, ``tie_weights``, the class's
    ``gate_names``, and, once the model is built, its shared variables ``params`` and ``caches``.
    """

    @property
    def n_gates(self):
        return len(self.gate_names)

    @property
    def stacked(self):
        """True for the tutorial's stacked layout, which fits whenever every layer's input is H wide."""
        return self.embed_dim == self.hidden_dim

    def recurrent_param_names(self):
        """Names of the recurrent weights: ``U, W, b`` (stacked) or ``U1..UL, W1..WL, b1..bL``."""
        if self.stacked:
            return ["U", "W", "b"]
        layers = range(1, self.num_layers + 1)
        return [f"U{l}" for l in layers] + [f"W{l}" for l in layers] + [f"b{l}" for l in layers]

    def param_shapes(self):
        """Expected shape of every parameter, in the order of ``bptt``'s gradients (a cache has its parameter's)."""
        return self._shapes(self.word_dim, self.hidden_dim, self.embed_dim, self.num_layers, self.tie_weights)

    @classmethod
    def _shapes(cls, C, H, D, L, tie):
        n = len(cls.gate_names)
        shapes = {"E": (D, C)}
        if D == H:  # the stacked layout
            shapes.update(U=(n * L, H, H), W=(n * L, H, H), b=(n * L, H))
        else:
            for l in range(1, L + 1):
                shapes[f"U{l}"] = (n, H, D if l == 1 else H)
            for l in range(1, L + 1):
                shapes[f"W{l}"] = (n, H, H)
            for l in range(1, L + 1):
                shapes[f"b{l}"] = (n, H)
        if not tie:
            shapes["V"] = (C, H)
        shapes["c"] = (C,)
        return shapes

    @classmethod
    def weight_shapes(cls, hparams):
        """The shape of every array ``get_params()`` returns (weights and RMSprop caches) for a model built
        with ``hparams``, without building it: a checkpoint's sizes are checked against these first."""
        from lmkit.registry import checked_sizes

        C, H, L = checked_sizes(cls, hparams, "word_dim", "hidden_dim", "num_layers")
        D = hparams.get("embed_dim") or H
        if not isinstance(D, int) or D < 1:
            raise ValueError(f"embed_dim must be a positive integer, got {D!r}")
        shapes = cls._shapes(C, H, D, L, bool(hparams.get("tie_weights", False)))
        return {**shapes, **{"m" + name: shape for name, shape in shapes.items()}}

    def initial_bias(self):
        """Initial biases of one layer, shape ``(n_gates, H)``; zeros unless a subclass says otherwise."""
        return np.zeros((self.n_gates, self.hidden_dim))

    def _initial_params(self, rng):
        """Random weights as in the tutorial.

        E ~ U(-1/sqrt(C), 1/sqrt(C)) (U(-1/sqrt(H), 1/sqrt(H)) when tied); U, W, V ~ U(-1/sqrt(H), 1/sqrt(H));
        biases from :meth:`initial_bias` (zeros for the GRU); c = 0. Arrays are drawn in the tutorial's order
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

    # ---- the checkpoint protocol (lmkit.checkpoint) ------------------------------------------------

    def hparams(self):
        """Constructor arguments that rebuild this architecture (JSON-able; for checkpoints)."""
        return {"word_dim": self.word_dim, "hidden_dim": self.hidden_dim, "embed_dim": self.embed_dim,
                "num_layers": self.num_layers, "bptt_truncate": self.bptt_truncate, "gate": self.gate,
                **({"tie_weights": True} if self.tie_weights else {})}

    def get_params(self):
        """Copies of all weights and RMSprop caches as numpy arrays, name -> array."""
        return {name: var.get_value() for name, var in {**self.params, **self.caches}.items()}

    def set_params(self, params, with_cache=None):
        """Replace the weights (and the RMSprop caches) with arrays from ``params``.

        Every name must be present and have the expected shape, and no other name may appear;
        otherwise ``ValueError`` is raised and nothing is changed. Values are cast to the model's dtype.
        With ``with_cache=False`` the caches are not read (``m...`` keys are ignored) and are reset to zero,
        which is right for weights that come without them, such as the tutorial's files and the shipped
        models; ``None`` (the default) reads them when ``params`` holds any, and then all of them.
        """
        if with_cache is None:
            with_cache = any(name in self.caches for name in params)
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
