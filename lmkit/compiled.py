"""Per-sentence functions compiled on first use: one mechanism for every PyTensor model.

A model describes its functions once, as a dict ``name -> (inputs, outputs, updates)`` returned by its
``_build_graph()``; the graph is built the first time any function is asked for, and each function is
compiled the first time it is called. Building a model (for example to load a checkpoint into it)
therefore costs nothing until it is used. ``model.compile("sgd_step")`` forces a compile, e.g. before
timing a training step.
"""
import numpy as np
import pytensor

from .backend import pytensor_mode
from .sentences import SentenceLosses


class CompiledModel(SentenceLosses):
    """Mixin: ``_function(name)`` and ``compile(*names)`` over the graphs of ``_build_graph()``.

    The model provides ``mode`` (a backend name for :func:`lmkit.backend.pytensor_mode`),
    ``trainable_params()`` (name -> shared variable, in the order of ``bptt``'s gradients) and
    ``_build_graph()``. Python numbers passed to a function are cast to the input's type
    (``allow_input_downcast``), so ``sgd_step(x, y, 0.01)`` works for a float32 model.
    """

    def _build_graph(self):
        """``name -> (inputs, outputs, updates)`` for every compiled function of the model."""
        raise NotImplementedError

    def _graphs(self):
        """The dict of :meth:`_build_graph`, built on the first call and kept."""
        if getattr(self, "_graph_dict", None) is None:
            self._graph_dict = self._build_graph()
        return self._graph_dict

    def _function(self, name):
        """The compiled function ``name``, compiling it the first time it is asked for."""
        if getattr(self, "_compiled", None) is None:
            self._compiled = {}
        compiled = self._compiled
        if name not in compiled:
            graphs = self._graphs()
            if name not in graphs:
                raise KeyError(f"{type(self).__name__} has no function {name!r}; it has {', '.join(graphs)}")
            inputs, outputs, updates = graphs[name]
            compiled[name] = pytensor.function(inputs, outputs, updates=updates, mode=pytensor_mode(self.mode),
                                               name=name, allow_input_downcast=True)
        return compiled[name]

    def compile(self, *names):
        """Compile the named functions now (all of them without arguments); returns the model."""
        for name in names or tuple(self._graphs()):
            self._function(name)
        return self

    def _zero_gradients(self):
        """What ``bptt`` returns for an empty sentence: zeros shaped like every trainable parameter."""
        return [np.zeros_like(p.get_value()) for p in self.trainable_params().values()]
