"""Errors that carry a one-line message meant for the user, not a traceback."""


class RNNLMError(Exception):
    """Base class: scripts print ``error: <message>`` and exit with status 2."""


class DataError(RNNLMError):
    """A corpus, data file or vocabulary that cannot be used."""


class CheckpointError(RNNLMError):
    """A model file that is missing, malformed or does not fit the model asked for."""


class TrainingError(RNNLMError):
    """Training cannot go on, for example because the loss became NaN."""


class UsageError(RNNLMError):
    """Command-line settings that cannot work together or are out of range."""
