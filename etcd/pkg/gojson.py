"""JSON text as Go's ``encoding/json`` writes it, for bodies that must match etcd's byte for byte."""

from __future__ import annotations

import json


def dumps(obj: object) -> str:
    """Compact JSON with Go's escapes: ``<``, ``>`` and ``&`` (safe in HTML) and U+2028/U+2029.

    Non-ASCII text is written as UTF-8, not ``\\u`` escapes, as Go does.
    """
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )
