"""Symbolic optimizers for the batched trainer: SGD, RMSprop and Adam, with global-norm clipping.

Each optimizer turns parameters (PyTensor shared variables) and their gradients into a list of
``(shared, new_value)`` updates that run inside the compiled training function. The learning rate is a
symbolic input, so halving it never triggers a recompile. Optimizer state (RMSprop's running average,
Adam's moments and step count) lives in shared variables too and is saved in checkpoints.
"""
import numpy as np
import pytensor
import pytensor.tensor as pt


def global_norm(grads):
    return pt.sqrt(sum(pt.sum(pt.sqr(g)) for g in grads))


def clip_by_global_norm(grads, max_norm):
    """Scale all gradients by one factor so their joint L2 norm is at most ``max_norm``.

    Returns ``(clipped, norm)`` where ``norm`` is the norm before clipping. ``max_norm <= 0`` disables it.
    """
    norm = global_norm(grads)
    if not max_norm or max_norm <= 0:
        return list(grads), norm
    scale = pt.minimum(1.0, max_norm / (norm + 1e-6)).astype(grads[0].dtype)
    return [g * scale for g in grads], norm


def rmsprop_updates(params, caches, grads, lr, decay, eps=1e-6):
    """The tutorial's RMSprop, for every parameter ``p`` with gradient ``g`` and cache ``m``::

        m <- decay * m + (1 - decay) * g**2
        p <- p - lr * g / sqrt(m + eps)

    The step uses the cache already updated with this step's gradient. ``lr`` and ``decay`` may be symbolic
    scalars (the per-sentence ``sgd_step`` of the GRU and LSTM takes both as inputs) or Python numbers
    (:class:`RMSprop`); ``eps`` is added as given. Returns the ``(shared, new_value)`` updates.
    """
    out = []
    for p, m, g in zip(params, caches, grads):
        m_new = decay * m + (1 - decay) * pt.sqr(g)
        out += [(m, m_new.astype(m.dtype)), (p, (p - lr * g / pt.sqrt(m_new + eps)).astype(p.dtype))]
    return out


class Optimizer:
    """Base class: ``state`` maps a name to a shared variable holding optimizer state."""

    name = None

    def __init__(self, params):
        self.params = dict(params)  # name -> shared variable
        self.state = {}

    def _zeros_like(self, prefix):
        for name, p in self.params.items():
            value = np.zeros_like(np.asarray(p.get_value()))
            self.state[f"{prefix}.{name}"] = pytensor.shared(value, name=f"{prefix}.{name}")

    def updates(self, grads, lr):
        raise NotImplementedError

    def get_state(self):
        return {k: np.asarray(v.get_value()) for k, v in self.state.items()}

    def set_state(self, arrays):
        missing = [k for k in self.state if k not in arrays]
        if missing:
            raise ValueError(f"optimizer state lacks {', '.join(missing)}")
        for k, v in self.state.items():
            current = np.asarray(v.get_value())
            if arrays[k].shape != current.shape:
                raise ValueError(f"optimizer state {k} has shape {arrays[k].shape}, expected {current.shape}")
            v.set_value(np.asarray(arrays[k], dtype=current.dtype))


class SGD(Optimizer):
    """``p <- p - lr * g``."""

    name = "sgd"

    def updates(self, grads, lr):
        return [(p, p - lr * g) for p, g in zip(self.params.values(), grads)]


class RMSprop(Optimizer):
    """The tutorial's RMSprop (:func:`rmsprop_updates`) with a fixed ``decay``; one cache ``m.<name>`` per parameter."""

    name = "rmsprop"

    def __init__(self, params, decay=0.9, eps=1e-6):
        super().__init__(params)
        self.decay, self.eps = decay, eps
        self._zeros_like("m")

    def updates(self, grads, lr):
        caches = [self.state[f"m.{name}"] for name in self.params]
        return rmsprop_updates(self.params.values(), caches, grads, lr, self.decay, self.eps)


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias-corrected moments, in the same form as PyTorch's ``torch.optim.Adam``."""

    name = "adam"

    def __init__(self, params, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(params)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self._zeros_like("m")
        self._zeros_like("v")
        dtype = np.asarray(next(iter(self.params.values())).get_value()).dtype
        self.state["t"] = pytensor.shared(np.zeros((), dtype=dtype), name="t")

    def updates(self, grads, lr):
        t = self.state["t"]
        t_new = t + 1
        out = [(t, t_new)]
        for (name, p), g in zip(self.params.items(), grads):
            m, v = self.state[f"m.{name}"], self.state[f"v.{name}"]
            m_new = self.beta1 * m + (1 - self.beta1) * g
            v_new = self.beta2 * v + (1 - self.beta2) * pt.sqr(g)
            m_hat = m_new / (1 - self.beta1 ** t_new).astype(m.dtype)
            v_hat = v_new / (1 - self.beta2 ** t_new).astype(v.dtype)
            out += [(m, m_new.astype(m.dtype)), (v, v_new.astype(v.dtype)),
                    (p, (p - lr * m_hat / (pt.sqrt(v_hat) + self.eps)).astype(p.dtype))]
        return out


OPTIMIZERS = {cls.name: cls for cls in (SGD, RMSprop, Adam)}


def make_optimizer(name, params):
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[name](params)
