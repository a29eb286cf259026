"""Go's ``path`` package where etcd's behaviour depends on it."""

from __future__ import annotations


def clean(p: str) -> str:
    """Go's ``path.Clean(path.Join("/", p))``: rooted, no empty, ``.`` or ``..`` elements."""
    parts: list[str] = []
    for el in p.split("/"):
        if el in ("", "."):
            continue
        if el == "..":
            if parts:
                parts.pop()
            continue
        parts.append(el)
    return "/" + "/".join(parts)
