"""An LSTM language model with the same shape and interface as :class:`gru_theano.GRUTheano`.

One LSTM layer carries two vectors from step to step, the memory cell ``c`` and the hidden state ``s``
(the one the next layer and the output read)::

    i = sigmoid(U_i x + W_i s_prev + b_i)      # input gate: how much of the candidate to write
    f = sigmoid(U_f x + W_f s_prev + b_f)      # forget gate: how much of the old memory to keep
    o = sigmoid(U_o x + W_o s_prev + b_o)      # output gate: how much of the memory to expose
    g = tanh(U_g x + W_g s_prev + b_g)         # candidate memory
    c = c_prev * f + g * i                     # new memory
    s = tanh(c) * o                            # new hidden state

These are the equations of the tutorial's blog post. The gates use the logistic sigmoid by default;
``gate="hard"`` switches them to the hard sigmoid the GRU uses. With everything else equal, switching
between a GRU and an LSTM is one argument.

The forget-gate biases start at 1 (all other biases at 0), so a fresh network keeps most of its memory
from step to step. That is this project's choice, not the tutorial's (its final code did not initialise
the forget bias to 1); Gers et al. (2000) and Jozefowicz et al. (2015) recommend it.
"""
import numpy as np
import pytensor.tensor as pt

from lmkit.registry import register_model

from .base import RecurrentLM, recurrent_products


@register_model
class LSTMTheano(RecurrentLM):
    """Embedding -> ``num_layers`` LSTM layers -> softmax; trained with RMSprop.

    ``LSTMTheano(word_dim, hidden_dim=128, bptt_truncate=-1, embed_dim=None, num_layers=2, gate=None,
    mode=None, dtype=None, seed=None, tie_weights=False)``: the same constructor and methods as
    :class:`gru_theano.GRUTheano` (see :class:`gru_theano.base.RecurrentLM`); ``gate=None`` means
    ``default_gate``, here ``"sigmoid"`` (the logistic). Blocks of ``U``, ``W``, ``b`` per layer: i, f, o,
    g; with ``embed_dim == hidden_dim`` U and W are ``(4 * layers, H, H)``.
    """

    model_type = "LSTMTheano"
    gate_names = ("i", "f", "o", "g")
    state_names = ("c", "s")
    default_gate = "sigmoid"

    def initial_bias(self):
        """Zeros, except 1 for the forget gate (block 1): this project's choice (see the module notes)."""
        b = np.zeros((self.n_gates, self.hidden_dim))
        b[self.gate_names.index("f")] = 1.0
        return b

    def cell(self, x_in, prev, U, W, b, gates=None, projected=None):
        """One LSTM step of one layer; blocks 0-3 of ``U``, ``W``, ``b`` are i, f, o, g, and ``a[j] = U_j x``
        the input products (``projected``, when the batched graph computed them before the loop)."""
        c_prev, s_prev = prev
        a = projected if projected is not None else [pt.dot(U[j], x_in) for j in range(4)]
        r = recurrent_products(W, s_prev)                        # W_j s_prev for the four blocks: one product
        i = self.gate_fn(a[0] + r[0] + b[0])
        f = self.gate_fn(a[1] + r[1] + b[1])
        o = self.gate_fn(a[2] + r[2] + b[2])
        g = pt.tanh(a[3] + r[3] + b[3])
        c = c_prev * f + g * i
        s = pt.tanh(c) * o
        if gates is not None:  # for looking inside (lmkit.inspection)
            gates.update(i=i, f=f, o=o)
        return (c, s)
