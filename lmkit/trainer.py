"""Training the vanilla RNN, GRU and LSTM models: the batched training step, then the epoch loop.

**The step** (:class:`BatchedTrainer`). The sentences of an epoch are packed end to end into ``batch_size`` streams and cut into chunks of
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

**Several devices** (``devices=N`` or ``"all"``, JAX mode only; :mod:`lmkit.devices`): data parallelism.
The batch axis (the last axis of every per-batch input) is split over a one-axis mesh of N devices,
``batch_size / N`` streams each, and the parameters and the optimizer state are replicated. The graphs
are built for one device's streams; the word count, the cost and the gradients are summed over the
devices (an XLA all-reduce) before clipping and the update, which every device then applies alike.
Evaluation is split the same way. Dropout masks are still drawn on the host for the whole batch, and
checkpoints hold whole arrays (the carried state gathered from all devices), so a run may resume on
another number of devices; results agree with one device's to float32 rounding (the sums run in another
order). In JAX mode one device takes the same path with a mesh of one (JAX's default device).

Dropout (``dropout > 0``) multiplies the activations the model lists in ``dropout_sites()`` (the word
vectors, the states between layers, the states before the softmax) by masks of ``Bernoulli(1-p) / (1-p)``
drawn on the host from ``(seed, epoch, chunk)``, so a resumed run draws the same masks. ``variational``
draws one mask per stream and chunk instead of one per time step (Gal & Ghahramani 2016).

A model must provide ``trainable_params()``, ``num_states()``, ``dropout_sites()`` and
``batched_cost(x, y, mask, states, reset, dropout)``.

**The loop** (:func:`fit`), in named pieces: :func:`train_epoch` runs one epoch's steps, :func:`end_of_epoch`
applies the schedule, a :class:`Report` draws the progress bar and writes the log lines, and a
:class:`FitConfig` holds how the loop runs. After every epoch the learning rate is multiplied by
``lr_decay`` (1: constant) and the validation perplexity is measured. If it did not improve, the learning
rate is halved as well; after ``patience`` such epochs in a row training stops early. A checkpoint
(weights, optimizer state, vocabulary, settings and the loop's own state) is written atomically after
every epoch and on Ctrl-C, and the best model so far is kept beside it (:func:`lmkit.checkpoint.best_path`).
The order of minibatches is a function of the seed and the epoch number only, so a run resumed from a
checkpoint replays exactly what an uninterrupted run would have done.
"""

import math
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pytensor
import pytensor.tensor as pt
from tqdm import tqdm

from . import devices as device_mesh
from . import pytensor_internals as internals
from .backend import pytensor_mode
from .checkpoint import CARRY_PREFIX, best_path, save_model
from .data.batching import packed_batches
from .errors import TrainingError
from .optim import clip_by_global_norm, make_optimizer
from .scoring import Score


class BatchedTrainer:
    def __init__(self, model, optimizer="adam", clip=5.0, bptt=32, batch_size=32, mode=None, dropout=0.0,
                 variational=False, devices=None):
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
        device_mesh.check(devices, self.batch_size, self.mode)
        # JAX mode: every input placed on a mesh (of one device by default); other backends take numpy arrays.
        self.placement = device_mesh.Placement(device_mesh.resolve(devices)) if self.mode == "JAX" else None
        self.devices = len(self.placement) if self.placement else 1
        self.compiles = 0
        self._functions = {}
        self.carry = self._zero_states()

    # ---- compiled functions ---------------------------------------------------------------------

    def _function(self, kind):
        """The compiled ``train`` or ``eval`` function (each compiled once, for the one chunk shape)."""
        if kind not in self._functions:
            # Static shapes let JAX compile the one chunk shape; C and Numba take any shape with one compile.
            # With several devices the graph is one device's: batch_size / devices streams.
            T, B = (self.bptt, self.batch_size // self.devices) if self.mode == "JAX" else (None, None)
            total = self.placement.all_reduce if self.placement else (lambda v: v)  # the sum over devices
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
                words = total(pt.sum(mask, acc_dtype=self.dtype))
                loss = cost / pt.maximum(words, pt.constant(1, dtype=self.dtype))  # mean cross-entropy per real word
                grads = [total(g) for g in pytensor.grad(loss, list(self.params.values()))]
                grads, norm = clip_by_global_norm(grads, self.clip)
                lr = pt.scalar("lr", dtype=self.dtype)
                inputs = [x, y, mask, reset, *states, *masks.values()]
                fn = pytensor.function([*inputs, lr], [total(cost), norm, *final],
                                       updates=self.optimizer.updates(grads, lr), mode=self.mode)
                split_outputs = range(2, 2 + len(final))
            else:
                cost, final = self.model.batched_cost(x, y, mask, states, reset)
                inputs = [x, y, mask, reset, *states]
                fn = pytensor.function(inputs, [total(cost), *final], mode=self.mode)
                split_outputs = range(1, 1 + len(final))
            if self.placement:
                # One program per device, on its streams; the placed JAX arrays pass through as they are
                # (PyTensor's input checks would copy them back to numpy: _call gives every input its exact
                # dtype and shape instead).
                self.placement.run_per_device(fn, len(inputs), set(split_outputs))
                internals.trust_inputs(fn)
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

    def _call(self, fn, batch, states, masks=(), lr=None):
        """``fn`` on one chunk: in JAX mode with every per-batch input split over the devices and the shared
        variables replicated; else with numpy arrays."""
        x, y = batch.x.astype(np.int32, copy=False), batch.y.astype(np.int32, copy=False)
        mask, reset = batch.mask.astype(self.dtype, copy=False), batch.reset.astype(self.dtype, copy=False)
        inputs = [x, y, mask, reset, *states, *masks]
        if self.placement:
            self.placement.replicate_shared(fn)
            inputs = [self.placement.split(a, dtype=self.dtype if i > 1 else np.int32) for i, a in enumerate(inputs)]
        if lr is not None:
            inputs.append(np.asarray(lr, dtype=self.dtype))
        return fn(*inputs)

    def train_batch(self, batch, lr):
        """One update on one chunk, starting from the carried state; returns (summed cross-entropy, gradient norm)."""
        out = self._call(self._function("train"), batch, self.carry, self._dropout_masks(batch), lr)
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
            cost, *states = self._call(fn, batch, states)
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


@dataclass
class FitState:
    """Everything the loop needs to continue where it stopped (stored as JSON in checkpoints)."""
    epoch: int = 0                 # the epoch in progress (or next to start)
    batch: int = 0                 # minibatches of that epoch already done
    learning_rate: float = 0.001
    best_valid_loss: float = math.inf
    bad_epochs: int = 0
    updates: int = 0
    epoch_cost: float = 0.0        # summed cross-entropy of this epoch's batches so far
    epoch_tokens: int = 0
    finished: bool = False
    history: list = field(default_factory=list)

    def to_dict(self):
        d = asdict(self)
        d["best_valid_loss"] = None if math.isinf(self.best_valid_loss) else self.best_valid_loss
        return d

    @classmethod
    def from_dict(cls, d):
        d = dict(d)
        d["best_valid_loss"] = math.inf if d.get("best_valid_loss") is None else d["best_valid_loss"]
        return cls(**d)


class DeferredInterrupt:
    """Ctrl-C (SIGINT) during training takes effect at the next safe point, not in the middle of an update.

    A training step updates many shared variables one after another, and a ``KeyboardInterrupt`` raised
    between two of them would leave weights and optimizer state out of step. Inside this context the
    first SIGINT only sets :attr:`requested`; the loop checks it after every step and after validation,
    and then raises ``KeyboardInterrupt`` itself, so the checkpoint written on the way out holds a state
    that a resumed run continues exactly. A second SIGINT interrupts at once (without a consistent save).
    Outside the main thread signals cannot be caught and nothing changes.
    """

    def __init__(self, log=print):
        self.requested = False
        self.log = log
        self._previous = None

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.log("interrupt: stopping after this step (press Ctrl-C again to stop at once, without saving)")

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False

    def check(self):
        """Raise ``KeyboardInterrupt`` here if one was requested."""
        if self.requested:
            raise KeyboardInterrupt


@dataclass(frozen=True)
class FitConfig:
    """How :func:`fit` runs: how many epochs, where the checkpoints go, the seed of the batch order and
    dropout masks, and the schedule (``lr_decay`` per epoch; the rate halves when the validation loss
    improves by less than ``min_delta``, and ``patience`` such epochs in a row stop training)."""
    epochs: int
    out: str
    seed: int = 0
    patience: int = 3
    min_delta: float = 1e-3
    lr_decay: float = 1.0


class Report:
    """What the loop shows: a tqdm bar per epoch (loss, tokens/s, compiled graphs) and one log line per event.

    ``log`` receives every line (``print`` by default); ``progress=False`` hides the bars.
    """

    def __init__(self, log=print, progress=True):
        self.log, self.progress = log, progress

    def bar(self, state, total, epochs):
        return tqdm(total=total, initial=state.batch, desc=f"epoch {state.epoch + 1}/{epochs}", unit="batch",
                    disable=not self.progress, leave=False, mininterval=1.0)

    def step(self, bar, state, elapsed, compiles):
        bar.update(1)
        bar.set_postfix(loss=f"{state.epoch_cost / max(state.epoch_tokens, 1):.3f}",
                        tok_s=f"{state.epoch_tokens / max(elapsed, 1e-9):.0f}", compiles=compiles, refresh=False)

    def epoch(self, record):
        message = (f"epoch {record['epoch']}: train loss {record['train_loss']:.4f}, "
                   f"{record['tokens_per_second']:.0f} tokens/s, lr {record['learning_rate']:g}")
        if record["valid_loss"] is not None:
            message += (f", valid loss {record['valid_loss']:.4f}, "
                        f"valid perplexity {record['valid_perplexity']:.2f}")
        self.log(message + f" ({record['compiles']} compiled graphs)")

    def halved(self, learning_rate):
        self.log(f"  no improvement: learning rate halved to {learning_rate:g}")

    def stopped(self, patience):
        self.log(f"  stopping early after {patience} epochs without improvement")

    def interrupted(self, out, state):
        self.log(f"interrupted: saved {out} at epoch {state.epoch + 1}, batch {state.batch}; "
                 f"continue with --resume {out}")


def train_epoch(trainer, batches, state, config, report, interrupt):
    """The steps of one epoch from ``state.batch`` on, each counted in ``state``; returns the seconds taken.

    A step whose loss is not a number stops training with :class:`TrainingError` naming the epoch and the
    batch (the last checkpoint, ``config.out``, is left as it was). ``interrupt`` (:class:`DeferredInterrupt`)
    is checked after every step.
    """
    start = time.perf_counter()
    out = config.out
    with report.bar(state, len(batches), config.epochs) as bar:
        for batch in batches[state.batch:]:
            try:
                cost, _ = trainer.train_batch(batch, state.learning_rate)
            except TrainingError as exc:
                kept = (f"the last good checkpoint is kept ({out})" if Path(out).exists()
                        else "no checkpoint had been written yet")
                raise TrainingError(f"{exc} at epoch {state.epoch + 1}, batch {state.batch + 1}; training "
                                    f"stopped, {kept}") from None
            state.batch += 1
            state.updates += 1
            state.epoch_cost += cost
            state.epoch_tokens += batch.num_tokens
            report.step(bar, state, time.perf_counter() - start, trainer.compiles)
            interrupt.check()
    return time.perf_counter() - start


def end_of_epoch(state, valid_loss, config, report):
    """The schedule after an epoch whose validation loss is ``valid_loss`` (None without a validation split):
    the epoch counted, the learning rate decayed once, halved when the loss did not improve by
    ``config.min_delta``, and training marked finished after ``config.patience`` such epochs in a row.
    Returns whether this epoch's model is the best so far."""
    state.epoch += 1
    state.batch, state.epoch_cost, state.epoch_tokens = 0, 0.0, 0
    state.learning_rate *= config.lr_decay
    if valid_loss is None:
        return False
    if valid_loss < state.best_valid_loss - config.min_delta:
        state.best_valid_loss, state.bad_epochs = valid_loss, 0
        return True
    state.bad_epochs += 1
    state.learning_rate *= 0.5
    report.halved(state.learning_rate)
    if state.bad_epochs >= config.patience:
        state.finished = True
        report.stopped(config.patience)
    return False


def fit(trainer, data, state, config, run=None, report=None):
    """Train until ``config.epochs`` epochs are done or early stopping; returns the final :class:`FitState`.

    ``run`` is the checkpoint's run record (:func:`lmkit.checkpoint.run_record`), whose ``progress`` is this
    loop's :class:`FitState`; ``report`` a :class:`Report` (default: bars and ``print``).
    """
    report = report or Report()
    X, Y = data.xy("train")
    Xv, Yv = data.xy("valid")
    run = dict(run or {})

    def save(path):
        save_model(path, trainer.model, data.vocab, {**run, "progress": state.to_dict()}, trainer.get_state())

    with DeferredInterrupt(report.log) as interrupt:
        while state.epoch < config.epochs and not state.finished:
            try:
                seconds = train_epoch(trainer, trainer.batches(X, Y, config.seed, state.epoch), state, config,
                                      report, interrupt)
                valid = trainer.evaluate(Xv, Yv) if Xv else None
                interrupt.check()
            except KeyboardInterrupt:
                # Every step counted in `state` is applied to the weights, and no other: a resumed run goes on
                # with the next step (or, when all steps were done, with this epoch's validation).
                save(config.out)
                report.interrupted(config.out, state)
                raise
            record = {"epoch": state.epoch + 1, "train_loss": state.epoch_cost / max(state.epoch_tokens, 1),
                      "learning_rate": state.learning_rate, "seconds": seconds,
                      "tokens_per_second": state.epoch_tokens / max(seconds, 1e-9),
                      "valid_loss": valid.cross_entropy if valid else None,
                      "valid_perplexity": valid.perplexity if valid else None, "compiles": trainer.compiles}
            state.history.append(record)
            report.epoch(record)
            if end_of_epoch(state, record["valid_loss"], config, report):
                save(best_path(config.out))
            save(config.out)
    return state
