"""chainrule's version (also ``chainrule.__version__``), recorded in saved model files."""

__version__ = "0.1.0"
