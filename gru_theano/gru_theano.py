"""A two-layer GRU language model in PyTensor, as in Part 4 of the WildML RNN tutorial.

One GRU layer turns its input ``x`` (a word vector, or the state of the layer below) and its previous
state ``s_prev`` into a new state ``s`` (all H-vectors except ``x``)::

    z = gate(U_z x + W_z s_prev + b_z)                # update gate: how much of the old state to keep
    r = gate(U_r x + W_r s_prev + b_r)                # reset gate: how much of the old state to read
    h = tanh(U_h x + W_h (s_prev * r) + b_h)          # candidate state
    s = (1 - z) * h + z * s_prev                      # keep a z-share of the old state, take the rest new

``*`` is the element-wise product. The reset gate scales the old state *before* it meets ``W_h``, as in
the tutorial's code. ``gate`` is Theano's hard sigmoid ``clip(0.2 a + 0.5, 0, 1)`` by default (what the
tutorial used, cheaper than ``exp``); ``gate="sigmoid"`` picks the logistic function.

Sizes. The tutorial's code ties the word-vector size to the hidden size (E is H x C, default H = 128);
the blog post's prose talks about 48-dimensional word vectors, which this code reaches with
``embed_dim=48``. With ``embed_dim`` left at ``None`` the weights have the tutorial's names and shapes
(E, U, W, b, V, c; see :mod:`gru_theano.layout` for the layouts).
"""
import pytensor.tensor as pt

from lmkit.registry import register_model

from .base import RecurrentLM, recurrent_products


@register_model
class GRUTheano(RecurrentLM):
    """Embedding -> ``num_layers`` GRU layers -> softmax; trained with RMSprop.

    ``GRUTheano(word_dim, hidden_dim=128, bptt_truncate=-1, embed_dim=None, num_layers=2, gate=None,
    mode=None, dtype=None, seed=None, tie_weights=False)``; the arguments are described in
    :class:`gru_theano.base.RecurrentLM`. ``gate=None`` means ``default_gate``, here ``"hard"`` (the
    tutorial's hard sigmoid). Blocks of ``U``, ``W``, ``b`` per layer: z, r, h.

    >>> model = GRUTheano(word_dim=8000)           # the tutorial's model
    >>> model.sgd_step(x, y, learning_rate=0.001)  # one RMSprop step on one sentence
    >>> model.predict(x)[-1]                       # distribution of the word after x
    """

    model_type = "GRUTheano"
    gate_names = ("z", "r", "h")
    state_names = ("s",)
    default_gate = "hard"

    def cell(self, x_in, prev, U, W, b, gates=None, projected=None):
        """One GRU step of one layer; ``U[0]``, ``U[1]``, ``U[2]`` are the z, r, h blocks (same for W, b).

        ``a[i] = U_i x`` are the input products; the batched graph computes them for all steps before the
        loop and passes them as ``projected`` (:meth:`gru_theano.base.RecurrentLM.project`).
        """
        (s_prev,) = prev
        a = projected if projected is not None else [pt.dot(U[i], x_in) for i in range(3)]
        zr = recurrent_products(W[:2], s_prev)                   # W_z s_prev and W_r s_prev: one product
        z = self.gate_fn(a[0] + zr[0] + b[0])
        r = self.gate_fn(a[1] + zr[1] + b[1])
        h = pt.tanh(a[2] + pt.dot(W[2], s_prev * r) + b[2])
        s = (1 - z) * h + z * s_prev
        if gates is not None:  # for looking inside (lmkit.inspection)
            gates.update(z=z, r=r)
        return (s,)
