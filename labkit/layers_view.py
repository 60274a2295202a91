"""The picture of an image: its layers stacked, with what rebuilds each one.

Why a module of its own: :mod:`labkit.memory_calculator` is the memory calculator; this is a
different view over a different module (:mod:`labkit.dockerfile_layers`). The figure is
drawn from the *parsed* Dockerfile, so the picture of any Dockerfile (the outline's,
the lesson's, the learner's) is always true to its text. Uses
``matplotlib.figure.Figure`` directly, so redrawing leaves no pyplot figures open.
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets
from IPython.display import Image, display
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from labkit import dockerfile, dockerfile_layers
from labkit.figures import png_image

__all__ = ["short_reason", "layers_figure", "picture", "rebuild_explorer"]

_FILES = "#4c72b0"  # a layer with files
_CONFIG = "#e8e8e8"  # a step that only changes the configuration
_REBUILT = "#dd8452"
_CACHED = "#55a868"


def short_reason(layer: dockerfile_layers.Layer) -> str:
    """What rebuilds this layer, in a few words (the picture's right-hand column)."""
    keyword = layer.instruction.keyword
    if keyword == "FROM":
        return "a new base image"
    if keyword in ("COPY", "ADD"):
        sources = dockerfile.copy_sources(layer.instruction)
        return "any change in the context" if "." in sources else f"a change to {', '.join(sources)}"
    if keyword == "RUN":
        return "an edit to the command"
    return "an edit to this line"


def _label(instruction: dockerfile.Instruction, width: int = 52) -> str:
    text = " ".join(str(instruction).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _size(size_mb: float, adds_files: bool) -> str:
    if size_mb == 0:
        return "no files" if not adds_files else "0 B"
    if size_mb >= 0.1:
        return f"{size_mb:.1f} MB"
    if size_mb >= 0.001:
        return f"{size_mb * 1000:.0f} kB"
    return f"{size_mb * 1e6:.0f} B"


def layers_figure(
    dockerfile_text: str,
    changed: str | Sequence[str] | None = None,
    sizes_mb: Sequence[float] | None = None,
    build_args: dict[str, str] | None = None,
) -> Figure:
    """The image's steps as a stack, FROM at the bottom, each with what rebuilds it.

    Filesystem layers (FROM, RUN, COPY, ADD) are tall and blue; steps that only set
    configuration (WORKDIR, USER, EXPOSE, CMD, ...) are thin and grey. With
    ``changed`` (context paths), the steps Docker would run again are orange and the
    ones it takes from its cache green. ``sizes_mb`` (one per drawn step, bottom
    first) labels each layer with its size; ``build_args`` fill in ``FROM ${...}``.
    A leading ``ARG`` is not a layer and is left out.
    """
    steps = [layer for layer in dockerfile_layers.layers(dockerfile_text)]
    first_from = next(i for i, layer in enumerate(steps) if layer.instruction.keyword == "FROM")
    steps = steps[first_from:]
    if sizes_mb is not None and len(sizes_mb) != len(steps):
        raise ValueError(f"sizes_mb has {len(sizes_mb)} numbers but the image has {len(steps)} steps from FROM on.")
    rebuilt = set(dockerfile_layers.rebuilt_steps(dockerfile_text, changed)) if changed else None

    heights = [1.0 if layer.adds_files else 0.55 for layer in steps]
    figure = Figure(figsize=(9.5, 0.55 * sum(heights) + 1.3), layout="constrained")
    axes = figure.subplots()
    y = 0.0
    for index, (layer, height) in enumerate(zip(steps, heights)):
        if rebuilt is None:
            colour = _FILES if layer.adds_files else _CONFIG
        else:
            colour = _REBUILT if layer.step in rebuilt else _CACHED
        text_colour = "white" if colour in (_FILES, _REBUILT, _CACHED) else "black"
        axes.add_patch(FancyBboxPatch((0, y + 0.06), 5.6, height - 0.12, boxstyle="round,pad=0,rounding_size=0.08",
                                      facecolor=colour, edgecolor="#333333", linewidth=0.8))
        label = f"{layer.step}. {_label(layer.instruction, 40 if sizes_mb is not None else 52)}"
        if layer.instruction.keyword == "FROM" and "$" in layer.instruction.argument:
            label += f" = {dockerfile.base_image(dockerfile_text, build_args)}"
        if sizes_mb is not None:
            label += f"   ({_size(sizes_mb[index], layer.adds_files)})"
        axes.text(0.12, y + height / 2, label, va="center", ha="left", fontsize=8.5, color=text_colour, family="monospace")
        axes.text(5.75, y + height / 2, f"rebuilt by {short_reason(layer)}", va="center", ha="left", fontsize=8.5)
        y += height
    axes.annotate("", xy=(-0.25, y), xytext=(-0.25, 0), arrowprops={"arrowstyle": "->", "color": "#555555"})
    axes.text(-0.35, y / 2, "built bottom to top; a rebuilt step\nrebuilds every step above it",
              rotation=90, va="center", ha="right", fontsize=8, color="#555555")
    axes.set_xlim(-0.9, 9.6)
    axes.set_ylim(0, y)
    axes.axis("off")
    if rebuilt is None:
        axes.set_title("The image's steps: blue ones add files (layers), grey ones only set configuration", fontsize=10)
    else:
        names = changed if isinstance(changed, str) else ", ".join(changed)
        count = len(rebuilt)
        axes.set_title(f"After a change to {names}: {count} step{'s' if count != 1 else ''} rebuilt (orange), "
                       "the rest from the cache (green)", fontsize=10)
    return figure


def picture(
    dockerfile_text: str,
    changed: str | Sequence[str] | None = None,
    sizes_mb: Sequence[float] | None = None,
    build_args: dict[str, str] | None = None,
) -> Image:
    """:func:`layers_figure` as a PNG that a notebook shows by itself (the last line of a cell).

    A plain ``Figure`` (no pyplot) has no notebook display of its own; a PNG does,
    in JupyterLab and in exported notebooks alike.
    """
    return png_image(layers_figure(dockerfile_text, changed, sizes_mb, build_args))


def rebuild_explorer(dockerfile_text: str, files: Sequence[str]) -> ipywidgets.VBox:
    """Pick a file of the build context; the picture shows which steps a change to it rebuilds."""
    choice = ipywidgets.Dropdown(options=["(nothing)", *files], description="Change:")
    output = ipywidgets.Output()

    def draw(*_: object) -> None:
        output.clear_output(wait=True)
        with output:
            changed = None if choice.value == "(nothing)" else choice.value
            display(picture(dockerfile_text, changed))

    choice.observe(draw, names="value")
    draw()
    return ipywidgets.VBox([choice, output])
