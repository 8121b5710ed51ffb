"""The one exception a corrupt or hostile model file raises."""


class ModelFormatError(ValueError):
    """A model or weights file is corrupt, truncated, hostile or does not fit the model.

    The message names the file member and what is wrong with it.
    """
