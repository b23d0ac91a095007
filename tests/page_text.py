"""Everything a page shows in AppTest as one string: every element's protobuf in text form
(values, labels, help, captions, chart specs), for checks of what must never be shown."""

from __future__ import annotations

from typing import Any

from streamlit.testing.v1 import AppTest


def page_text(at: AppTest) -> str:
    """Every element's fields, Markdown's escapes removed ('\\_' shows as '_')."""
    texts: list[str] = []

    def walk(node: Any) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            texts.append(str(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(texts).replace("\\", "")


def server_paths_shown(at: AppTest, *folders: str) -> list[str]:
    """The folders (and torch's checkpoints folder) that some element's text names."""
    text = page_text(at)
    return [f for f in (*folders, "hub/checkpoints") if f and f in text]
