"""Keras-named layers, each a :class:`~chainrule.module.Module`."""

from .attention import MultiHeadAttention
from .augmentation import GaussianNoise, RandomFlip, RandomTranslation
from .base import LAYER_REGISTRY, Layer
from .conv import Conv1D, Conv2D
from .conv_transpose import Conv2DTranspose
from .core import Activation, Dense, Dropout, Flatten, Reshape
from .embedding import Embedding
from .input_layer import Input, InputLayer
from .merge import (
    Add,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    dot,
    maximum,
    minimum,
    multiply,
    subtract,
)
from .normalization import BatchNormalization, LayerNormalization
from .pooling import (
    AveragePooling1D,
    AveragePooling2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPooling1D,
    MaxPooling2D,
)
from .recurrent import GRU, LSTM, SimpleRNN
from .reshaping import (
    Cropping1D,
    Cropping2D,
    UpSampling1D,
    UpSampling2D,
    ZeroPadding1D,
    ZeroPadding2D,
)
from .serialization import deserialize_layer, register_layer, serialize_layer
from .wrappers import Bidirectional, TimeDistributed

__all__ = ["LAYER_REGISTRY", "Activation", "AveragePooling2D", "Conv1D", "Conv2D", "Dense",
           "Dropout", "Flatten", "GlobalAveragePooling2D", "Layer", "MaxPooling1D",
           "MaxPooling2D", "Reshape",
           "BatchNormalization", "Embedding", "GaussianNoise", "Input", "InputLayer",
           "LayerNormalization",
           "RandomFlip", "RandomTranslation",
           "GRU", "LSTM", "SimpleRNN",
           "Bidirectional", "MultiHeadAttention", "TimeDistributed",
           "AveragePooling1D", "Conv2DTranspose", "Cropping1D", "Cropping2D",
           "GlobalAveragePooling1D", "GlobalMaxPooling1D", "GlobalMaxPooling2D",
           "UpSampling1D", "UpSampling2D", "ZeroPadding1D", "ZeroPadding2D",
           "deserialize_layer", "register_layer", "serialize_layer",

           "Add", "Average", "Concatenate", "Dot", "Maximum", "Minimum", "Multiply", "Subtract",
           "add", "average", "concatenate", "dot", "maximum", "minimum", "multiply",
           "subtract"]
