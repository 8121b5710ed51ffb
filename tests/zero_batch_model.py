"""``ZeroBatchNet``: a subclassed model with ``get_config`` but no
``compute_output_shape``, so building it (in ``load_model`` too) runs a zero batch
through ``forward``: the one path on which loading still runs data, and which
``load_model`` bounds. Shared by test_load_from_shapes.py and the hostile-file table."""

from __future__ import annotations

from chainrule.layers import deserialize_layer, serialize_layer
from chainrule.models import Model


class ZeroBatchNet(Model):
    """``body(x)``; ``body`` is any layer or model (a lazy Sequential, in the tests)."""

    def __init__(self, body, name: str | None = None):
        super().__init__(name=name)
        self.body = body

    def forward(self, x, logits: bool = False):
        return self.body(x)

    def get_config(self) -> dict:
        return {"name": self.name, "body": serialize_layer(self.body)}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> ZeroBatchNet:
        return cls(deserialize_layer(config["body"], custom_objects), name=config.get("name"))


CUSTOM_OBJECTS = {"ZeroBatchNet": ZeroBatchNet}
