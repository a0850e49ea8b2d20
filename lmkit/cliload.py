"""Loading a model and its vocabulary from the command line (shared by generate and score)."""
from .backend import MODES
from .data import Vocabulary
from .errors import CheckpointError
from .modelio import open_model


def add_model_args(parser):
    parser.add_argument("model", help="a checkpoint of this project, or a tutorial .npz (U,V,W or E,U,W,V,b,c)")
    parser.add_argument("--vocab", help="vocabulary JSON, needed for tutorial files that store none")
    parser.add_argument("--mode", default=None, choices=sorted(MODES), help="backend (default: c)")


def load_model_and_vocab(args):
    model, vocab, meta = open_model(args.model, mode=args.mode)
    if args.vocab:
        given = Vocabulary.load(args.vocab)
        if vocab is not None and given != vocab:
            raise CheckpointError(f"{args.model}: stores a different vocabulary than {args.vocab}")
        vocab = given
    if vocab is None:
        raise CheckpointError(f"{args.model}: holds no vocabulary; pass --vocab VOCAB.json")
    if len(vocab) != model.word_dim:
        raise CheckpointError(f"{args.model}: has {model.word_dim} output words but the vocabulary has "
                              f"{len(vocab)}; they do not belong together")
    return model, vocab, meta
