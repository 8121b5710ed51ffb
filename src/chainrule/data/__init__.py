"""Data: datasets (``cr.datasets``) and batching (``cr.data.DataLoader``)."""

from . import datasets
from .loader import DataLoader
