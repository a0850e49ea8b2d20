"""``rnnlm``: train, score and sample word-level RNN, GRU and LSTM language models.

    rnnlm train                               # the recipe: a GRU on all of Shakespeare (README, Training)
    rnnlm score runs/gru.best.npz --split test
    rnnlm rescore runs/gru.best.npz nbest.tsv --weight 0.5
    rnnlm generate runs/gru.best.npz -n 5 --prefix "my lord"
    rnnlm stats --corpus shakespeare:hamlet
    rnnlm models                              # the trained models that ship: rnnlm generate pretrained:gru
    rnnlm explore                             # predictions, gates and gradients in the browser
    rnnlm part2 | rnnlm part4                 # the tutorial's own trainers, its defaults
    rnnlm run-theano old_model.py             # a Theano-era script on PyTensor

``rnnlm COMMAND --help`` lists a command's flags. Errors are one line (``error: ...``, exit 2); Ctrl-C
exits 130, after a trainer has saved where it stood.
"""
import argparse
import importlib
import os
import shutil
import sys

from .flags import OneLineErrorParser, parse

# command -> (module holding add_arguments(parser) and run(options), one line of help). Only the module of
# the command being run is imported, and command modules import PyTensor and JAX inside run(), so neither
# `rnnlm --help` nor `rnnlm COMMAND --help` loads them. run() receives the parsed flags as read-only
# rnnlm.flags.Options.
COMMANDS = {
    "train": ("rnnlm.train", "train a model with the batched trainer (the recipe)"),
    "score": ("rnnlm.score", "log-probabilities and perplexity of text under a saved model"),
    "rescore": ("rnnlm.rescore", "rerank n-best lists with the model's log-probability"),
    "generate": ("rnnlm.generate", "generate sentences from a saved model"),
    "stats": ("rnnlm.stats", "corpus statistics as in Part 2 (sentences, words, vocabulary coverage)"),
    "models": ("rnnlm.pretrained", "the trained models that ship with the package (pretrained:NAME)"),
    "explore": ("rnnlm.explore", "see inside a model in the browser: predictions, states and gates, gradients"),
    "part2": ("rnnlm.part2", "the tutorial's Part 2 trainer: vanilla RNN, SGD one sentence at a time"),
    "part4": ("rnnlm.part4", "the tutorial's Part 4 trainer: GRU or LSTM, RMSprop one sentence at a time"),
    "run-theano": ("rnnlm.run_theano", "run a Theano-era script unchanged on PyTensor (a theano compatibility layer)"),
}


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Help that fits a screen: the docstring's examples as written, short metavars, defaults in brackets."""

    def __init__(self, prog):
        super().__init__(prog, max_help_position=30, width=min(110, shutil.get_terminal_size().columns))

    def _get_default_metavar_for_optional(self, action):
        return {"int": "N", "float": "X"}.get(getattr(action.type, "__name__", None), "TEXT")

    def _get_help_string(self, action):
        text = action.help or ""
        if action.option_strings and not any(action.default is v for v in (None, False, argparse.SUPPRESS)):
            text += f" [{action.default}]"
        return text


def build_parser(only=None):
    """The ``rnnlm`` parser and its subparsers (``{name: parser}``); ``only`` names the one command whose
    flags are added (the others are listed with their help line), or None for all of them."""
    ap = OneLineErrorParser(prog="rnnlm", description=__doc__.split("\n\n")[0].replace("``rnnlm``: ", ""),
                            epilog="Run 'rnnlm COMMAND --help' for a command's flags.")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parsers = {}
    for name, (module_name, help_line) in COMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name, help=help_line)
            continue
        module = importlib.import_module(module_name)
        parser = sub.add_parser(name, help=help_line, description=module.__doc__, formatter_class=HelpFormatter,
                                usage=f"%(prog)s {getattr(module, 'USAGE', '[flags]')}")
        module.add_arguments(parser)
        parsers[name] = parser
    return ap, parsers


def main(argv=None):
    """Run the command in ``argv`` (default: ``sys.argv[1:]``); errors exit with one line."""
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    ap, parsers = build_parser(only=command if command in COMMANDS else "")
    ap.parse_args(argv)  # --help, a missing or unknown command, a bad flag: argparse prints and exits here
    options = parse(parsers[command], argv[argv.index(command) + 1:])
    run = importlib.import_module(COMMANDS[command][0]).run

    from lmkit.backend import configure
    from lmkit.errors import RNNLMError

    configure()  # the process settings (allocator, BLAS threads, warnings), before PyTensor or JAX start
    try:
        run(options)
    except RNNLMError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:  # the reader went away (`rnnlm generate ... | head -1`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)
