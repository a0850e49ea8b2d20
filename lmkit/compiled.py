"""Per-sentence functions compiled on first use: one mechanism for every PyTensor model.

A model describes its functions once, as a dict ``name -> (inputs, outputs, updates)`` returned by its
``_build_graph()``; the graph is built the first time any function is asked for, and each function is
compiled the first time it is called. Building a model (for example to load a checkpoint into it)
therefore costs nothing until it is used. ``model.compile("sgd_step")`` forces a compile, e.g. before
timing a training step.

Every function takes, after the sentence's ``x`` (and ``y``), a ``mask``: 1 on the sentence's words, 0 on
padding, which keeps the state where it was and adds nothing to the cost. On the C backend a sentence runs
as it is (the mask all ones). JAX compiles one program per input shape, and differentiates a ``scan`` only
over a length known when the graph is built, so there :meth:`CompiledModel._run` pads a sentence at the
front to one of a few lengths (:data:`BUCKETS`), each with its own graph whose inputs declare that length
(``_build_graph(length)``). The padded steps keep the zero
state the sentence starts from, so cost and gradients are the unpadded ones, and a truncated gradient
(``truncate_gradient``, counted from the end) still covers the sentence's own last words. A run then
compiles a handful of programs whatever its sentence lengths; :meth:`CompiledModel.compiled_graphs` counts
them. Losses over a corpus go through the batched scorer in JAX mode (one more program).
"""
import numpy as np
import pytensor

from .backend import pytensor_mode
from .sentences import SentenceLosses

# Sentence lengths a JAX-mode model pads to (a longer sentence: the next power of two).
BUCKETS = (16, 32, 64, 128, 256, 512)


class CompiledModel(SentenceLosses):
    """Mixin: ``_function(name)`` and ``compile(*names)`` over the graphs of ``_build_graph()``.

    The model provides ``mode`` (a backend name for :func:`lmkit.backend.pytensor_mode`),
    ``trainable_params()`` (name -> shared variable, in the order of ``bptt``'s gradients) and
    ``_build_graph()``. Python numbers passed to a function are cast to the input's type
    (``allow_input_downcast``), so ``sgd_step(x, y, 0.01)`` works for a float32 model.
    """

    def _build_graph(self, length=None):
        """``name -> (inputs, outputs, updates)`` for every compiled function of the model; ``length``, if
        given, is the sentence length the inputs are declared with (JAX needs it static to differentiate a
        ``scan``)."""
        raise NotImplementedError

    def _graphs(self, length=None):
        """The dict of :meth:`_build_graph` for sentences of ``length`` (None: any), built once and kept."""
        if getattr(self, "_graph_dict", None) is None:
            self._graph_dict = {}
        if length not in self._graph_dict:
            self._graph_dict[length] = self._build_graph(length)
        return self._graph_dict[length]

    def _function(self, name, length=None):
        """The compiled function ``name`` (for sentences of ``length``; None: any length), compiled the first
        time it is asked for."""
        if getattr(self, "_compiled", None) is None:
            self._compiled = {}
        compiled = self._compiled
        if (name, length) not in compiled:
            graphs = self._graphs(length)
            if name not in graphs:
                raise KeyError(f"{type(self).__name__} has no function {name!r}; it has {', '.join(graphs)}")
            inputs, outputs, updates = graphs[name]
            compiled[name, length] = pytensor.function(inputs, outputs, updates=updates,
                                                       mode=pytensor_mode(self.mode), name=name,
                                                       allow_input_downcast=True)
        return compiled[name, length]

    def compile(self, *names):
        """Compile the named functions now (all of them without arguments); returns the model. In JAX mode,
        where a function exists per length bucket, this does nothing: each is compiled at its first call."""
        if pytensor_mode(self.mode) != "JAX":
            for name in names or tuple(self._graphs()):
                self._function(name)
        return self

    def _run(self, name, x, y=None, *args):
        """``(outputs, padding)`` of the compiled function ``name`` on one sentence ``x`` (and targets ``y``):
        padded at the front to a bucket length in JAX mode (module notes), as it is otherwise."""
        T, pad, length = len(x), 0, None
        if pytensor_mode(self.mode) == "JAX":
            length = next((b for b in BUCKETS if b >= T), 1 << (T - 1).bit_length())
            pad = length - T
        padding = np.zeros(pad, dtype=np.int32)
        mask = np.concatenate([np.zeros(pad), np.ones(T)]).astype(self.dtype)
        inputs = [np.concatenate([padding, x])] + ([np.concatenate([padding, y])] if y is not None else [])
        return self._function(name, length)(*inputs, mask, *args), pad

    def wait(self):
        """Return once the weights hold the values of every step called so far (JAX runs a step after the
        call returns); for timing. Returns the model."""
        for p in self.trainable_params().values():
            value = p.get_value(borrow=True)
            if hasattr(value, "block_until_ready"):
                value.block_until_ready()
        return self

    def compiled_graphs(self):
        """How many programs this model's functions compiled: one per function on the C backend, one per
        function and length bucket in JAX mode."""
        return len(getattr(self, "_compiled", None) or {})

    def calculate_total_loss(self, X, Y):
        """As :meth:`lmkit.sentences.SentenceLosses.calculate_total_loss`; in JAX mode through the batched
        scorer (one program for every sentence length, where one per sentence would compile one per bucket)."""
        if pytensor_mode(self.mode) != "JAX" or not hasattr(self, "batched_top"):
            return super().calculate_total_loss(X, Y)
        from .scoring import batch_scorer

        if len(X) != len(Y):
            raise ValueError(f"{len(X)} input sentences but {len(Y)} target sentences")
        pairs = [self._xy(x, y) for x, y in zip(X, Y)]
        return -float(sum(lp.sum() for lp in batch_scorer(self).pair_logprobs(pairs)))

    def _zero_gradients(self):
        """What ``bptt`` returns for an empty sentence: zeros shaped like every trainable parameter."""
        return [np.zeros_like(p.get_value()) for p in self.trainable_params().values()]
