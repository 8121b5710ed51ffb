"""Generative models: ``GAN`` (DESIGN §5)."""

from .gan import GAN

__all__ = ["GAN"]
