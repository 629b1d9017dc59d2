"""Charts as SVG text, the same way everywhere: matplotlib without a display, and the settings that
make the same figure give the same bytes (fixed id salt, text kept as text, no date or creator)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def svg_figure(salt: str, size: tuple[float, float]) -> Iterator[tuple[object, object, Callable[[], str]]]:
    """(figure, axes, to_svg): draw on the axes, then call to_svg() for the chart's SVG text."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"svg.hashsalt": salt, "svg.fonttype": "none", "font.size": 10}):
        figure, axes = plt.subplots(figsize=size)

        def to_svg() -> str:
            buffer = io.StringIO()
            figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
            return buffer.getvalue()

        try:
            yield figure, axes, to_svg
        finally:
            plt.close(figure)
