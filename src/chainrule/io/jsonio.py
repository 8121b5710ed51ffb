"""JSON documents in model files, parsed defensively."""

from __future__ import annotations

import json

from .errors import ModelFormatError

MAX_DEPTH = 64


def encode_json(obj) -> bytes:
    """``obj`` as UTF-8 JSON bytes (TypeError for anything JSON cannot hold)."""
    return json.dumps(obj, indent=1).encode("utf-8")


def decode_json(data: bytes, where: str, expect: type = dict):
    """Parse JSON bytes into an object of type ``expect``; :class:`ModelFormatError`
    on bad UTF-8, bad JSON, nesting deeper than ``MAX_DEPTH`` or the wrong top-level type."""
    try:
        obj = json.loads(bytes(data).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise ModelFormatError(f"{where} is not valid JSON: {err}") from None
    if not isinstance(obj, expect):
        raise ModelFormatError(f"{where} must hold a JSON {expect.__name__}; "
                               f"found {type(obj).__name__}.")
    _check_depth(obj, where, 0)
    return obj


def _check_depth(obj, where: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ModelFormatError(f"{where} is nested more than {MAX_DEPTH} levels deep.")
    children = obj.values() if isinstance(obj, dict) else obj if isinstance(obj, list) else ()
    for child in children:
        _check_depth(child, where, depth + 1)
