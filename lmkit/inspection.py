"""Looking inside a model as it reads a sentence: what it predicts at every word, its states and gates, and
how strongly each word's probability depends on every earlier state.

For a sentence ``x_0 .. x_{T-1}`` (``SENTENCE_START`` first) and its next words ``y_0 .. y_{T-1}``, the model
reads one word a step (the same ``next_states`` the step API runs, :mod:`lmkit.batched`) and

- predicts ``log p(. | x_0..x_t)`` over the vocabulary, hence ``log p(y_t)``, its rank and the likeliest words;
- carries its states ``h_t``: every layer's hidden state (and the LSTM's memory cell), and its gates: the
  GRU's update and reset gates ``z``, ``r``, the LSTM's input, forget and output gates ``i``, ``f``, ``o``;
- and, through ``pytensor.grad``, gives ``d log p(y_t) / d h_k`` for every ``k <= t``: Part 3's gradient
  through time, for the reader's own sentence. ``h_k`` is the whole recurrent state after word ``k`` (every
  state of every layer, concatenated); a zero ``delta_k`` added to each state after step ``k`` is what the
  gradient is taken with respect to, which is the same thing.

:class:`Inspector` compiles these functions once per model (on the C backend any sentence length runs
without a new compile) and holds a lock, so concurrent callers (the explorer's web server) are safe.
"""
import threading

import numpy as np

# A sentence up to this long gets the gradients of every word at once (T backward passes in one call, a
# T x T x H array); a longer one gets those of one chosen word at a time.
FULL_GRADIENTS_MAX = 200


class Inspector:
    """The inspection functions of one model (module notes); thread-safe."""

    def __init__(self, model, mode="c"):
        self.model, self.mode = model, mode
        self.lock = threading.Lock()
        self._functions = None

    def _compile(self):
        import pytensor
        import pytensor.tensor as pt
        from pytensor.gradient import jacobian

        from .backend import pytensor_mode
        from .output_layer import output_logprobs

        model = self.model
        n = model.num_states()
        x, y, target = pt.ivector("x"), pt.ivector("y"), pt.iscalar("target")
        deltas = [pt.matrix(f"delta{i}", dtype=model.dtype) for i in range(n)]      # (T, H) each, zeros
        inputs = model.input_table().T[x]                                            # (T, D): E[:, x_t]

        def one_step(inp, *args):
            ds, prev = args[:n], args[n:2 * n]
            gates = []
            new, _ = model.next_states(inp.dimshuffle(0, "x"), [p.dimshuffle(0, "x") for p in prev], gates)
            new = [s[:, 0] + d for s, d in zip(new, ds)]   # h_k + delta_k: d/d delta_k is d/d h_k
            flat_gates = [g[:, 0] for layer in gates for _, g in sorted(layer.items())]
            return [*new, *flat_gates]

        zeros = [pt.zeros((model.hidden_dim,), dtype=model.dtype)] * n
        gate_count = len(self.gate_names())
        outputs = pytensor.scan(one_step, sequences=[inputs, *deltas], outputs_info=[*zeros] + [None] * gate_count,
                                return_list=True, return_updates=False)
        states, gates = outputs[:n], outputs[n:]
        W, b = model.output_layer()
        logprobs = output_logprobs(states[-1], W, b)                                 # (T, C): the top state
        logp_y = logprobs[pt.arange(x.shape[0]), y]
        mode = pytensor_mode(self.mode)
        forward = pytensor.function([x, y, *deltas], [logprobs, *states, *gates], mode=mode, on_unused_input="ignore")
        one = pytensor.function([x, y, target, *deltas], pytensor.grad(logp_y[target], deltas), mode=mode)
        # Every word's gradients: log p(y_t) depends on the states only through the top state s_t, so with
        # g_t = d log p(y_t) / d s_t, taken for all t at once (row t of the output layer depends on s_t alone),
        # d log p(y_t) / d h_k = d (g_t . s_t) / d h_k: the T backward passes then run through the recurrence
        # only, not through the output layer T times over.
        top = pt.matrix("top", dtype=model.dtype)                                    # (T, H)
        top_logp = output_logprobs(top, W, b)[pt.arange(y.shape[0]), y]
        output_grad = pytensor.function([top, y], pytensor.grad(top_logp.sum(), top), mode=mode)
        g = pt.matrix("g", dtype=model.dtype)                                        # (T, H): g_t
        full = pytensor.function([x, g, *deltas], jacobian((g * states[-1]).sum(axis=1), deltas), mode=mode)
        self._functions = forward, one, (output_grad, full)

    def state_names(self):
        """``layer<l>.<state>`` for every state the model carries, in ``num_states()`` order."""
        names = getattr(self.model, "state_names", ("s",))
        layers = getattr(self.model, "num_layers", 1)
        return [f"layer{l}.{s}" for l in range(1, layers + 1) for s in names]

    def gate_names(self):
        """``layer<l>.<gate>`` for every gate the model reports (none for a vanilla RNN), sorted per layer."""
        gates = sorted(getattr(self.model, "gate_names", ()))
        shown = [g for g in gates if g in {"z", "r", "i", "f", "o"}]
        layers = getattr(self.model, "num_layers", 1)
        return [f"layer{l}.{g}" for l in range(1, layers + 1) for g in shown]

    def read(self, x, y, gradients="all", target=None):
        """What the model does on one sentence: a dict of ``logprobs`` (T x C, natural log), ``states`` and
        ``gates`` (name -> T x H) and, with ``gradients="all"`` (sentences up to :data:`FULL_GRADIENTS_MAX`) the
        T x T matrix ``grad_norms[t, k] = |d log p(y_t) / d h_k|`` (zero for k > t), with ``"one"`` its row
        ``target`` only, with ``None`` no gradients."""
        x, y = np.asarray(x, dtype=np.int32), np.asarray(y, dtype=np.int32)
        with self.lock:
            if self._functions is None:
                self._compile()
            forward, one, full = self._functions
            deltas = [np.zeros((len(x), self.model.hidden_dim), dtype=self.model.dtype)
                      for _ in range(self.model.num_states())]
            logprobs, *rest = forward(x, y, *deltas)
            n = self.model.num_states()
            result = {"logprobs": np.asarray(logprobs, dtype=np.float64),
                      "states": dict(zip(self.state_names(), map(np.asarray, rest[:n]))),
                      "gates": dict(zip(self.gate_names(), map(np.asarray, rest[n:])))}
            if gradients == "all":
                if len(x) > FULL_GRADIENTS_MAX:
                    raise ValueError(f"gradients of every word are computed up to {FULL_GRADIENTS_MAX} words; "
                                     "ask for one target word")
                output_grad, every = full
                g = output_grad(rest[n - 1], y)                                  # d log p(y_t) / d s_t
                jac = [np.asarray(j, dtype=np.float64) for j in every(x, g, *deltas)]  # (T targets, T, H) each
                result["grad_norms"] = np.sqrt(sum((j ** 2).sum(axis=-1) for j in jac))
            elif gradients == "one":
                grads = [np.asarray(g, dtype=np.float64) for g in one(x, y, int(target), *deltas)]
                result["grad_norm"] = np.sqrt(sum((g ** 2).sum(axis=-1) for g in grads))
        return result
