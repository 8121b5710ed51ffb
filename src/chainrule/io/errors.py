"""The one exception a corrupt or hostile model file raises, and the warning for
weights that hold NaN or infinity."""


class ModelFormatError(ValueError):
    """A model or weights file is corrupt, truncated, hostile or does not fit the model.

    The message names the file member and what is wrong with it.
    """


class NonFiniteWeightsWarning(RuntimeWarning):
    """Loaded weights hold NaN or infinity (the message names the arrays)."""
