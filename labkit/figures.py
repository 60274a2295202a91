"""Matplotlib figures as PNGs: what every picture of the course hands to a notebook.

Why a module: the views draw on a plain ``Figure`` (no pyplot, so nothing global and no backend to
choose), and a plain ``Figure`` has no notebook display of its own; a PNG does, in JupyterLab and in
exported notebooks alike. One place says how (the same resolution everywhere).
"""
from __future__ import annotations

import io
from typing import Any

__all__ = ["png_bytes", "png_image"]

DPI = 90


def png_bytes(figure: Any) -> bytes:
    """The figure as PNG bytes (for an ipywidgets Image, or a file)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def png_image(figure: Any) -> Any:
    """The figure as an IPython ``Image``: the last line of a cell shows it."""
    from IPython.display import Image

    return Image(data=png_bytes(figure), format="png")
