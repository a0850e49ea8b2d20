"""The epoch loop around :class:`lmkit.trainer.BatchedTrainer`: validation, schedule, checkpoints, resume.

After every epoch the learning rate is multiplied by ``lr_decay`` (1: constant) and the validation
perplexity is measured. If it did not improve, the learning rate is halved as well; after ``patience``
such epochs in a row training stops early. A checkpoint (weights, optimizer
state, vocabulary, settings and the loop's own state) is written atomically after every epoch and on
Ctrl-C, and the best model so far is kept beside it as ``<name>.best.npz``. The order of minibatches is a
function of the seed and the epoch number only, so a run resumed from a checkpoint replays exactly what
an uninterrupted run would have done.
"""
import math
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from .checkpoint import save_model
from .errors import TrainingError


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


def best_path(path):
    path = Path(path)
    return path.with_name(path.stem + ".best" + path.suffix)


def fit(trainer, data, state, epochs, out, seed=0, patience=3, min_delta=1e-3, extra=None, log=print,
        progress=True, lr_decay=1.0):
    """Train until ``epochs`` epochs are done or early stopping; returns the final :class:`FitState`."""
    model, vocab = trainer.model, data.vocab
    X, Y = data.xy("train")
    Xv, Yv = data.xy("valid")
    extra = dict(extra or {})

    def save(path):
        save_model(path, model, vocab, {**extra, "fit": state.to_dict()}, trainer.get_state())

    with DeferredInterrupt(log) as interrupt:
        while state.epoch < epochs and not state.finished:
            batches = trainer.batches(X, Y, seed, state.epoch)
            start = time.perf_counter()
            bar = tqdm(total=len(batches), initial=state.batch, desc=f"epoch {state.epoch + 1}/{epochs}",
                       unit="batch", disable=not progress, leave=False, mininterval=1.0)
            try:
                for batch in batches[state.batch:]:
                    try:
                        cost, norm = trainer.train_batch(batch, state.learning_rate)
                    except TrainingError as exc:
                        kept = (f"the last good checkpoint is kept ({out})" if Path(out).exists()
                                else "no checkpoint had been written yet")
                        raise TrainingError(f"{exc} at epoch {state.epoch + 1}, batch {state.batch + 1}; training "
                                            f"stopped, {kept}") from None
                    state.batch += 1
                    state.updates += 1
                    state.epoch_cost += cost
                    state.epoch_tokens += batch.num_tokens
                    elapsed = time.perf_counter() - start
                    bar.update(1)
                    bar.set_postfix(loss=f"{state.epoch_cost / max(state.epoch_tokens, 1):.3f}",
                                    tok_s=f"{state.epoch_tokens / max(elapsed, 1e-9):.0f}",
                                    compiles=trainer.compiles, refresh=False)
                    interrupt.check()
                bar.close()
                seconds = time.perf_counter() - start
                valid = trainer.evaluate(Xv, Yv) if Xv else None
                interrupt.check()
            except KeyboardInterrupt:
                # Every step counted in `state` is applied to the weights, and no other: a resumed run goes on
                # with the next step (or, when all steps were done, with this epoch's validation).
                bar.close()
                save(out)
                log(f"interrupted: saved {out} at epoch {state.epoch + 1}, batch {state.batch}; "
                    f"continue with --resume {out}")
                raise
            train_loss = state.epoch_cost / max(state.epoch_tokens, 1)
            record = {"epoch": state.epoch + 1, "train_loss": train_loss, "learning_rate": state.learning_rate,
                      "seconds": seconds, "tokens_per_second": state.epoch_tokens / max(seconds, 1e-9),
                      "valid_loss": valid.cross_entropy if valid else None,
                      "valid_perplexity": valid.perplexity if valid else None, "compiles": trainer.compiles}
            state.history.append(record)
            message = (f"epoch {record['epoch']}: train loss {train_loss:.4f}, "
                       f"{record['tokens_per_second']:.0f} tokens/s, lr {state.learning_rate:g}")
            if valid:
                message += f", valid loss {valid.cross_entropy:.4f}, valid perplexity {valid.perplexity:.2f}"
            log(message + f" ({trainer.compiles} compiled graphs)")
            state.epoch += 1
            state.batch, state.epoch_cost, state.epoch_tokens = 0, 0.0, 0
            state.learning_rate *= lr_decay
            if valid:
                if valid.cross_entropy < state.best_valid_loss - min_delta:
                    state.best_valid_loss, state.bad_epochs = valid.cross_entropy, 0
                    save(best_path(out))
                else:
                    state.bad_epochs += 1
                    state.learning_rate *= 0.5
                    log(f"  no improvement: learning rate halved to {state.learning_rate:g}")
                    if state.bad_epochs >= patience:
                        state.finished = True
                        log(f"  stopping early after {patience} epochs without improvement")
            save(out)
    return state
