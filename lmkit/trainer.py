"""The batched trainer shared by the vanilla RNN, GRU and LSTM models.

The sentences of an epoch are packed end to end into ``batch_size`` streams and cut into chunks of
``bptt`` steps (:func:`lmkit.data.batching.packed_batches`). One training step takes one ``(T, B)`` chunk
and runs the model's batched graph (``model.batched_cost``): the word lookup and the output softmax are
single large matrix operations over all time steps, only the recurrence itself runs inside ``scan``, and
a ``reset`` input zeroes the state at the first word of every sentence, so the model is exactly the
per-sentence one. The hidden state is carried from chunk to chunk and gradients stop at chunk
boundaries (truncated BPTT, as in PyTorch's word_language_model). The gradient of the mean cross-entropy
per word is clipped to a maximum global norm and applied by SGD, RMSprop or Adam (``lmkit.optim``), all
inside one compiled function.

Every chunk has the same shape, so a run compiles two graphs in all, one to train and one to evaluate,
with any backend (JAX compiles once per array shape). The progress bar counts them.

Dropout (``dropout > 0``) multiplies the activations the model lists in ``dropout_sites()`` (the word
vectors, the states between layers, the states before the softmax) by masks of ``Bernoulli(1-p) / (1-p)``
drawn on the host from ``(seed, epoch, chunk)``, so a resumed run draws the same masks. ``variational``
draws one mask per stream and chunk instead of one per time step (Gal & Ghahramani 2016).

A model must provide ``trainable_params()``, ``num_states()``, ``dropout_sites()`` and
``batched_cost(x, y, mask, states, reset, dropout)``.
"""
import math

import numpy as np
import pytensor
import pytensor.tensor as pt

from .backend import pytensor_mode
from .data.batching import packed_batches
from .errors import TrainingError
from .optim import clip_by_global_norm, make_optimizer
from .scoring import Score

CARRY_PREFIX = "carry."  # the hidden state carried between chunks, saved beside the optimizer state


class BatchedTrainer:
    def __init__(self, model, optimizer="adam", clip=5.0, bptt=32, batch_size=32, mode=None, dropout=0.0,
                 variational=False):
        for name, value in (("bptt", bptt), ("batch_size", batch_size)):
            if int(value) < 1:
                raise ValueError(f"{name} must be a positive integer, got {value}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.model = model
        self.params = model.trainable_params()
        self.optimizer = make_optimizer(optimizer, self.params)
        self.clip = clip
        self.bptt = int(bptt)
        self.batch_size = int(batch_size)
        self.dropout = float(dropout)
        self.variational = bool(variational)
        self.sites = model.dropout_sites() if self.dropout > 0 else []
        self.mode = pytensor_mode(mode if mode is not None else getattr(model, "mode", None))
        self.dtype = model.dtype
        self.compiles = 0
        self._functions = {}
        self.carry = self._zero_states()

    # ---- compiled functions ---------------------------------------------------------------------

    def _function(self, kind):
        """The compiled ``train`` or ``eval`` function (each compiled once, for the one chunk shape)."""
        if kind not in self._functions:
            # Static shapes let JAX compile the one chunk shape; C and Numba take any shape with one compile.
            T, B = (self.bptt, self.batch_size) if self.mode == "JAX" else (None, None)
            H = self.model.hidden_dim
            x, y = (pt.tensor(n, dtype="int32", shape=(T, B)) for n in ("x", "y"))
            mask, reset = (pt.tensor(n, dtype=self.dtype, shape=(T, B)) for n in ("mask", "reset"))
            states = [pt.tensor(f"state{i}", dtype=self.dtype, shape=(H, B))
                      for i in range(self.model.num_states())]
            if kind == "train":
                masks = {name: pt.tensor(f"dropout_{name}", dtype=self.dtype, shape=(T, width, B))
                         for name, width in self.sites}
                cost, final = self.model.batched_cost(x, y, mask, states, reset, masks)
                # Summed in the weights' dtype: a float64 accumulator comes back float64 from JAX (x64 is on
                # when floatX is float64) and would turn SGD's updated V and c into float64 arrays.
                words = pt.sum(mask, acc_dtype=self.dtype)
                loss = cost / pt.maximum(words, pt.constant(1, dtype=self.dtype))  # mean cross-entropy per real word
                grads = pytensor.grad(loss, list(self.params.values()))
                grads, norm = clip_by_global_norm(grads, self.clip)
                lr = pt.scalar("lr", dtype=self.dtype)
                fn = pytensor.function([x, y, mask, reset, *states, *masks.values(), lr], [cost, norm, *final],
                                       updates=self.optimizer.updates(grads, lr), mode=self.mode)
            else:
                cost, final = self.model.batched_cost(x, y, mask, states, reset)
                fn = pytensor.function([x, y, mask, reset, *states], [cost, *final], mode=self.mode)
            self._functions[kind] = fn
            self.compiles += 1
        return self._functions[kind]

    def _zero_states(self):
        return [np.zeros((self.model.hidden_dim, self.batch_size), dtype=self.dtype)
                for _ in range(self.model.num_states())]

    def _dropout_masks(self, batch):
        """One mask per dropout site, ``(T, width, B)``, a function of the chunk's seed alone."""
        if not self.sites:
            return []
        rng = np.random.default_rng(batch.seed)
        keep, (T, B) = 1.0 - self.dropout, batch.x.shape
        masks = []
        for _, width in self.sites:
            shape = (1, width, B) if self.variational else (T, width, B)
            m = (rng.random(shape, dtype=np.float32) < keep).astype(self.dtype) / np.asarray(keep, self.dtype)
            masks.append(np.ascontiguousarray(np.broadcast_to(m, (T, width, B))))
        return masks

    # ---- data -------------------------------------------------------------------------------------

    def batches(self, X, Y, seed, epoch):
        """The chunks of one epoch, shuffled: a function of ``(seed, epoch)`` only, so resuming replays them."""
        chunks = packed_batches(X, Y, self.batch_size, self.bptt, shuffle=True,
                                seed=np.random.SeedSequence([seed, epoch]))
        for chunk in chunks:
            chunk.seed = (seed, epoch, chunk.index)
        return chunks

    # ---- steps --------------------------------------------------------------------------------------

    def train_batch(self, batch, lr):
        """One update on one chunk, starting from the carried state; returns (summed cross-entropy, gradient norm)."""
        fn = self._function("train")
        out = fn(batch.x, batch.y, batch.mask.astype(self.dtype), batch.reset.astype(self.dtype), *self.carry,
                 *self._dropout_masks(batch), np.asarray(lr, dtype=self.dtype))
        cost, norm, final = float(out[0]), float(out[1]), out[2:]
        if not math.isfinite(cost) or not math.isfinite(norm):
            raise TrainingError(f"the loss became {cost} (gradient norm {norm})")
        self.carry = list(final)
        return cost, norm

    def evaluate(self, X, Y):
        """A :class:`lmkit.scoring.Score` for sentence pairs ``(X[i], Y[i])``: the per-sentence likelihood,
        computed on packed chunks."""
        fn = self._function("eval")
        total, words, states = 0.0, 0, self._zero_states()
        for batch in packed_batches(X, Y, self.batch_size, self.bptt, shuffle=False):
            cost, *states = fn(batch.x, batch.y, batch.mask.astype(self.dtype), batch.reset.astype(self.dtype),
                               *states)
            total += float(cost)
            words += batch.num_tokens
        return Score(sum(1 for x in X if len(x)), words, -total)

    # ---- checkpoint state ---------------------------------------------------------------------------

    def get_state(self):
        """Optimizer state and the carried hidden state (name -> array), for checkpoints."""
        state = self.optimizer.get_state()
        state.update({f"{CARRY_PREFIX}{i}": np.asarray(s) for i, s in enumerate(self.carry)})
        return state

    def set_state(self, arrays):
        self.optimizer.set_state(arrays)
        carry = [arrays.get(f"{CARRY_PREFIX}{i}") for i in range(self.model.num_states())]
        if all(c is not None for c in carry):
            for c, z in zip(carry, self._zero_states()):
                if c.shape != z.shape:
                    raise ValueError(f"carried state has shape {c.shape}, expected {z.shape}")
            self.carry = [np.asarray(c, dtype=self.dtype) for c in carry]
