"""``rnnlm``: train, score and sample word-level RNN, GRU and LSTM language models.

    rnnlm train                               # the recipe: a GRU on all of Shakespeare (README, Training)
    rnnlm score runs/gru.best.npz --split test
    rnnlm rescore runs/gru.best.npz nbest.tsv --weight 0.5
    rnnlm generate runs/gru.best.npz -n 5 --prefix "my lord"
    rnnlm stats --corpus shakespeare:hamlet
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

from .flags import OneLineErrorParser, explicit_flags

# command -> module holding HELP, add_arguments(parser) and run(args); imported when the parser is built.
COMMANDS = {name: f"rnnlm.{name.replace('-', '_')}" for name in ("train", "score", "rescore", "generate", "stats", "part2",
                                                                 "part4", "run-theano")}


def build_parser():
    ap = OneLineErrorParser(prog="rnnlm", description=__doc__.split("\n\n")[0].replace("``rnnlm``: ", ""),
                            epilog="Run 'rnnlm COMMAND --help' for a command's flags.")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        parser = sub.add_parser(name, help=module.HELP, description=module.__doc__, formatter_class=HelpFormatter,
                                usage=f"%(prog)s {getattr(module, 'USAGE', '[flags]')}")
        module.add_arguments(parser)
        parser.set_defaults(run=module.run, subparser=parser)
    return ap


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


def main(argv=None):
    """Run the command in ``argv`` (default: ``sys.argv[1:]``); errors exit with one line."""
    from lmkit.errors import RNNLMError

    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    # The flags given on the command line (a resumed run keeps its saved settings for all others).
    args.explicit = explicit_flags(args.subparser, argv[argv.index(args.command) + 1:])
    run = args.run
    del args.run, args.subparser
    try:
        run(args)
    except RNNLMError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:  # the reader went away (`rnnlm generate ... | head -1`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)
