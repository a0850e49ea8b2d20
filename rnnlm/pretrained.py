"""The trained models that ship with the package, taken as ``pretrained:NAME`` wherever a model file is.

    rnnlm generate pretrained:gru -n 5
    rnnlm score pretrained:part2 --text "My lord, the king is dead."
    rnnlm train --init pretrained:gru --corpus mine.txt         # fine-tune: writes its own checkpoint

The files lie in ``rnnlm/pretrained/`` beside ``models.json``, which records each one's SHA-256 and size:
a missing, truncated or altered file is refused in one line before it is read. Each file is an ordinary
checkpoint (weights stored as float16, no optimizer state) whose metadata also holds ``provenance``: the
exact command, seed, code commit, machine and wall-clock of the run that trained it, and the validation
and test perplexity of the stored weights. ``scripts/train_pretrained.py`` trains all of them again.
"""
import hashlib
import json
from pathlib import Path

from lmkit.errors import CheckpointError

PREFIX = "pretrained:"
FOLDER = Path(__file__).with_name("pretrained")
MANIFEST = FOLDER / "models.json"


def manifest():
    """``{name: {"file", "sha256", "bytes"}}`` of the shipped models (empty when none ship)."""
    try:
        return json.loads(MANIFEST.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{MANIFEST}: not readable ({exc}); reinstall the package") from None


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check(name, entry=None):
    """The path of the shipped model ``name``, after checking that it is there and unaltered."""
    models = manifest()
    entry = entry or models.get(name)
    if entry is None:
        known = ", ".join(f"{PREFIX}{n}" for n in models) or "none ship with this installation"
        raise CheckpointError(f"{PREFIX}{name}: no such shipped model (known: {known})")
    path = FOLDER / entry["file"]
    if not path.is_file():
        raise CheckpointError(f"{PREFIX}{name}: its file {path} is missing; reinstall the package")
    size = path.stat().st_size
    if size != entry["bytes"]:
        raise CheckpointError(f"{PREFIX}{name}: {path} has {size} bytes, {entry['bytes']} were shipped "
                              "(truncated or replaced); reinstall the package")
    if sha256(path) != entry["sha256"]:
        raise CheckpointError(f"{PREFIX}{name}: {path} does not match its recorded SHA-256 (damaged or "
                              "altered); reinstall the package")
    return str(path)


def resolve(spec):
    """``spec`` itself, or the checked path of a shipped model when ``spec`` is ``pretrained:NAME``."""
    if isinstance(spec, str) and spec.startswith(PREFIX):
        return check(spec[len(PREFIX):])
    return spec


# ---- rnnlm models ------------------------------------------------------------------------------------------

USAGE = "[--json] [--export NAME FILE]"


def add_arguments(ap):
    ap.add_argument("--json", action="store_true", help="one JSON object per model instead of the table")
    ap.add_argument("--export", nargs=2, metavar=("NAME", "FILE"),
                    help="write a shipped model in the tutorial's own .npz layout (U,V,W or E,U,W,V,b,c), "
                         "and its vocabulary beside it as FILE.vocab.json")


def describe(name, entry):
    """What ``rnnlm models`` shows of one shipped model: its provenance, size and state."""
    from lmkit.checkpoint import read_meta

    row = {"name": f"{PREFIX}{name}", "file": str(FOLDER / entry["file"]), "bytes": entry["bytes"]}
    try:
        path = check(name, entry)
    except CheckpointError as exc:
        return {**row, "status": str(exc)}
    meta = read_meta(path)
    return {**meta.get("provenance", {}), **row, "status": "ok"}


def run(args):
    import sys

    from .models import open_with_vocab

    if args.export:
        name, target = args.export
        export(open_with_vocab(f"{PREFIX}{name}" if not name.startswith(PREFIX) else name)[:2], target)
        return
    rows = [describe(name, entry) for name, entry in manifest().items()]
    if not rows:
        print("no trained models ship with this installation (scripts/train_pretrained.py trains them)")
        return
    if args.json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return
    for row in rows:
        if row["status"] != "ok":
            print(f"{row['name']}: {row['status']}", file=sys.stderr)
            continue
        print(f"{row['name']}  {row['model']}, {row['parameters']:,} parameters, {row['bytes'] / 2**20:.1f} MB "
              f"({row['storage']})\n    data: {row['data']}\n    trained: {row['wall_clock_s'] / 60:.1f} min, "
              f"{row['epochs']} epochs, on {row['machine']}, code {row['commit'][:10]}, seed {row['seed']}\n"
              f"    perplexity: valid {row['valid_perplexity']:.2f}, test {row['test_perplexity']:.2f}\n"
              f"    command: {row['command']}")


def export(model_and_vocab, target):
    """Write ``(model, vocab)`` in the tutorial's own layout, and the vocabulary as ``target.vocab.json``."""
    from lmkit.errors import UsageError

    model, vocab = model_and_vocab
    if model.model_type == "RNNTheano":
        from rnn_theano import save_model_parameters_theano
    elif model.model_type == "GRUTheano" and model.stacked and not model.tie_weights:
        from gru_theano import save_model_parameters_theano
    else:
        raise UsageError(f"{model.model_type} with these sizes has no tutorial layout; only the vanilla RNN and "
                         "an untied GRU with word vectors as wide as its state have one")
    save_model_parameters_theano(target, model)
    vocab.save(f"{target}.vocab.json")
    print(f"Saved the vocabulary to {target}.vocab.json.")
