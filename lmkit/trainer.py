"""The batched trainer shared by the vanilla RNN, GRU and LSTM models.

One training step takes a minibatch of sentences of similar length (``lmkit.data.batching``), padded to a
common length and masked, and runs the model's batched graph (``model.batched_cost``): the word lookup
and the output softmax are single large matrix operations over all time steps, and only the recurrence
itself runs inside ``scan``. The gradient of the mean cross-entropy per word is clipped to a maximum
global norm and applied by SGD, RMSprop or Adam (``lmkit.optim``), all inside one compiled function.

``bptt=k > 0`` trains with truncated BPTT over fixed chunks of k steps: a batch is cut into chunks, the
hidden state is carried from one chunk to the next, and gradients stop at chunk boundaries. ``bptt=0``
backpropagates through whole sentences.

With the JAX backend every distinct array shape is a separate compile, so shapes are kept few: batches are
padded to bucket lengths (multiples of ``bucket_width``) and always have ``batch_size`` columns, and with
``bptt=k`` every chunk is ``k`` steps long except a batch's last, which is a multiple of the bucket width:
at most ``k / bucket_width`` shapes however long the sentences. The progress bar shows how many graphs
have been compiled so far.

A model must provide ``trainable_params()``, ``num_states()`` and ``batched_cost(x, y, mask, states)``.
"""
import math

import numpy as np
import pytensor
import pytensor.tensor as pt

from .backend import pytensor_mode
from .data.batching import bucketed_batches
from .errors import TrainingError
from .optim import clip_by_global_norm, make_optimizer
from .scoring import Score


class BatchedTrainer:
    def __init__(self, model, optimizer="adam", clip=5.0, bptt=0, batch_size=32, bucket_width=8, mode=None):
        self.model = model
        self.params = model.trainable_params()
        self.optimizer = make_optimizer(optimizer, self.params)
        self.clip = clip
        self.bptt = int(bptt)
        self.batch_size = int(batch_size)
        self.bucket_width = int(bucket_width)
        if self.bptt > 0 and self.bptt % self.bucket_width:
            raise ValueError(f"the BPTT chunk length {self.bptt} must be a multiple of the bucket width "
                             f"{self.bucket_width}, so that chunks come in few shapes")
        self.mode = pytensor_mode(mode if mode is not None else getattr(model, "mode", None))
        self.static_shapes = self.mode == "JAX"
        self.dtype = model.dtype
        self.compiles = 0
        self._functions = {}

    # ---- compiled functions ---------------------------------------------------------------------

    def _symbolic_inputs(self, shape):
        T, B = shape if self.static_shapes else (None, None)
        x = pt.tensor("x", dtype="int32", shape=(T, B))
        y = pt.tensor("y", dtype="int32", shape=(T, B))
        mask = pt.tensor("mask", dtype=self.dtype, shape=(T, B))
        H = self.model.hidden_dim
        states = [pt.tensor(f"state{i}", dtype=self.dtype, shape=(H, B)) for i in range(self.model.num_states())]
        return x, y, mask, states

    def _function(self, kind, shape):
        key = (kind, shape if self.static_shapes else None)
        if key not in self._functions:
            x, y, mask, states = self._symbolic_inputs(shape)
            cost, final = self.model.batched_cost(x, y, mask, states)
            if kind == "train":
                loss = cost / pt.maximum(pt.sum(mask), 1.0)
                grads = pytensor.grad(loss, list(self.params.values()))
                grads, norm = clip_by_global_norm(grads, self.clip)
                lr = pt.scalar("lr", dtype=self.dtype)
                fn = pytensor.function([x, y, mask, *states, lr], [cost, norm, *final],
                                       updates=self.optimizer.updates(grads, lr), mode=self.mode)
            else:
                fn = pytensor.function([x, y, mask, *states], [cost, *final], mode=self.mode)
            self._functions[key] = fn
            self.compiles += 1
        return self._functions[key]

    def _chunks(self, batch):
        """The batch cut into chunks of ``bptt`` steps (the whole batch when ``bptt`` is 0)."""
        T = batch.x.shape[0]
        k = self.bptt or T
        for start in range(0, T, k):
            sl = slice(start, start + k)
            yield batch.x[sl], batch.y[sl], batch.mask[sl].astype(self.dtype)

    def _zero_states(self, B):
        return [np.zeros((self.model.hidden_dim, B), dtype=self.dtype) for _ in range(self.model.num_states())]

    # ---- steps --------------------------------------------------------------------------------------

    def train_batch(self, batch, lr):
        """One update per chunk of the batch; returns (summed cross-entropy, gradient norm of the last chunk)."""
        states = self._zero_states(batch.x.shape[1])
        total, norm = 0.0, 0.0
        lr = np.asarray(lr, dtype=self.dtype)
        for x, y, mask in self._chunks(batch):
            if not mask.any():
                break
            cost, norm, *states = self._function("train", x.shape)(x, y, mask, *states, lr)
            cost = float(cost)
            if not math.isfinite(cost) or not math.isfinite(float(norm)):
                raise TrainingError(f"the loss became {cost} (gradient norm {float(norm)})")
            total += cost
        return total, float(norm)

    def evaluate(self, X, Y):
        """A :class:`lmkit.scoring.Score` for sentence pairs ``(X[i], Y[i])``, computed in batches."""
        total, words = 0.0, 0
        for batch in bucketed_batches(X, Y, self.batch_size, self.bucket_width, shuffle=False,
                                      full_batches=self.static_shapes):
            states = self._zero_states(batch.x.shape[1])
            for x, y, mask in self._chunks(batch):
                if not mask.any():
                    break
                cost, *states = self._function("eval", x.shape)(x, y, mask, *states)
                total += float(cost)
            words += batch.num_tokens
        return Score(sum(1 for x in X if len(x)), words, -total)

    def batches(self, X, Y, seed, epoch):
        """The shuffled minibatches of one epoch: a function of ``(seed, epoch)`` only, so resuming replays them."""
        return bucketed_batches(X, Y, self.batch_size, self.bucket_width, shuffle=True,
                                seed=np.random.SeedSequence([seed, epoch]), full_batches=self.static_shapes)

