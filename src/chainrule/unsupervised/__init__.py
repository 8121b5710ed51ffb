"""Models that learn without labels: RBM, DBN and autoencoders (DESIGN §5)."""

from .autoencoder import Autoencoder
from .blas import limit_blas_threads
from .dbn import DBN
from .images import save_image_grid, tile_images
from .rbm import RBM

__all__ = ["DBN", "RBM", "Autoencoder", "save_image_grid", "tile_images",
           "limit_blas_threads"]
