"""What every PyTensor model adds to the tutorial's per-sentence graph: the batched graphs and the step API.

A model describes its recurrence twice, from the same cell code: over a whole ``(T, B)`` batch
(``batched_top``: T steps of ``scan``) and for one step (``next_states``: no ``scan``). This mixin builds
the rest once for every model:

- :meth:`BatchedLM.batched_cost`: the summed cross-entropy of a batch, for the trainer (:mod:`lmkit.trainer`);
- :meth:`BatchedLM.batched_nll`: ``-log p`` of every target of a batch, for scoring (:mod:`lmkit.scoring`);
- :meth:`BatchedLM.initial_state` and :meth:`BatchedLM.step`: the model read one word at a time, with its
  state kept between calls, for generation (:mod:`lmkit.sampling`): a sentence of T words costs T steps,
  not the T(T+1)/2 of re-reading every prefix with ``predict_proba``.

A model provides ``hidden_dim``, ``dtype``, ``mode``, ``num_states()`` and

- ``batched_top(x, states, reset=None, dropout=None)``: the top layer's states ``(T, H, B)`` and the final
  states, for word indices ``x`` ``(T, B)`` and starting states ``(H, B)`` each;
- ``input_table()``: the matrix (symbolic, D x C) whose column ``w`` is what the recurrence reads for word
  ``w`` (the GRU's and LSTM's embedding ``E``, the RNN's ``U``);
- ``next_states(inputs, states)``: one step for the looked-up inputs ``(D, B)``: the new states and the top
  layer's state ``(H, B)``;
- ``output_layer()``: the output weights ``W`` (C x H) and bias ``b`` (or None), symbolic.
"""
import numpy as np

from .output_layer import output_cost, output_logprobs, output_nll


class BatchedLM:
    """Mixin: the batched cost and NLL graphs and the step-by-step API (module notes)."""

    def batched_cost(self, x, y, mask, states, reset=None, dropout=None):
        """Summed cross-entropy of a ``(T, B)`` batch and the final states (symbolic), for the trainer.

        ``x``, ``y``: ``(T, B)`` word indices (time-major); ``mask``: ``(T, B)``, 1 on real words; ``states``:
        :meth:`num_states` matrices ``(H, B)`` to start from; ``reset``: ``(T, B)``, 1 where a sentence starts
        (every state is multiplied by ``1 - reset_t`` before step t, so each sentence starts from zero as in
        the per-sentence graph; :mod:`lmkit.data.batching`); ``dropout``: masks ``(T, width, B)`` for the
        model's ``dropout_sites()``. Full BPTT over the T steps given (the trainer cuts the streams into chunks).
        """
        top, final = self.batched_top(x, states, reset, dropout)
        return output_cost(top, *self.output_layer(), y, mask), final

    def batched_nll(self, x, y, states, reset=None):
        """``-log p`` of every target of a ``(T, B)`` batch, shape ``(T, B)``, and the final states (symbolic)."""
        top, final = self.batched_top(x, states, reset)
        rows = top.dimshuffle(0, 2, 1).reshape((-1, self.hidden_dim))
        return output_nll(rows, *self.output_layer(), y.flatten()).reshape(x.shape), final

    # ---- one word at a time ------------------------------------------------------------------------

    def initial_state(self, batch=1):
        """The state before the first word of ``batch`` sentences: zeros, ``num_states()`` arrays ``(H, batch)``."""
        return [np.zeros((self.hidden_dim, batch), dtype=self.dtype) for _ in range(self.num_states())]

    def step(self, state, words):
        """Read one word per sentence: ``(new_state, logprobs)``, where ``logprobs[i]`` (C,) is the natural-log
        distribution of the word after ``words[i]`` in sentence ``i``.

        ``state`` is what :meth:`initial_state` or the previous call returned; the batch is the last axis of
        each of its arrays, so ``[s[:, order] for s in state]`` reorders or selects sentences. Compiled once
        per model and backend; JAX compiles once per shape, so there a batch is padded to a power of two. The
        weights are read when it runs: a model that trains samples from its current weights.
        """
        if getattr(self, "_step_fn", None) is None:
            self._step_fn, self._step_padded = self._compile_step()
        words = np.asarray(words, dtype=np.int32)
        B = len(words)
        padded = 1 << max(B - 1, 0).bit_length() if self._step_padded else B  # JAX: 1, 2, 4, 8, ... columns
        if padded != B:  # repeat the first column: a few shapes, hence a few compiles, for any batch
            fill = [0] * (padded - B)
            words = np.concatenate([words, words[fill]])
            state = [np.concatenate([np.asarray(s), np.asarray(s)[:, fill]], axis=1) for s in state]
        *new, logprobs = self._step_fn(words, *state)
        if padded != B:
            return [np.asarray(s)[:, :B] for s in new], np.asarray(logprobs)[:B]
        return new, np.asarray(logprobs)

    def _compile_step(self):
        """``(step function, whether batches are padded)``. In JAX mode the output layer is part of the graph;
        on the CPU backends the graph returns the top state and the output weights (borrowed, not copied) and
        :func:`lmkit.output_layer.logprobs_numpy` finishes, its float32 ``exp`` vectorised (PyTensor's C code
        calls ``exp`` once per value: at C = 8000 that took most of the step)."""
        import pytensor
        import pytensor.tensor as pt

        from .backend import pytensor_mode
        from .output_layer import logprobs_numpy

        states = [pt.matrix(f"state{i}", dtype=self.dtype) for i in range(self.num_states())]
        table, (W, b) = self.input_table(), self.output_layer()
        mode = pytensor_mode(self.mode)
        if mode == "JAX":
            words = pt.ivector("words")
            new, top = self.next_states(table.T[words].T, states)
            logprobs = output_logprobs(top.T, W, b)  # (B, C)
            return pytensor.function([words, *states], [*new, logprobs], mode=mode), True
        # The word vectors are looked up in numpy too: PyTensor's C gather copies the whole table at every call.
        inputs = pt.matrix("inputs", dtype=self.dtype)
        new, top = self.next_states(inputs, states)
        weights = [pytensor.Out(v, borrow=True) for v in (W, b) if v is not None]   # the arrays, not copies
        fn = pytensor.function([inputs, *states], [*new, top.T, *weights], mode=mode)
        n = len(new)

        def step(words, *state):
            out = fn(table.get_value(borrow=True)[:, words], *state)
            return [*out[:n], logprobs_numpy(*out[n:])]

        return step, False
