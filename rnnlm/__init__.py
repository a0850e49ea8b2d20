"""``rnnlm``: the command line of the project, one command with subcommands (see :mod:`rnnlm.cli`)."""
