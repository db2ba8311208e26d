"""Figures people would rather see than read: overlays, galleries, augmentation grids, tables."""

from __future__ import annotations

import html

import numpy as np

from selfieseg.errors import InputError


class Table:
    """Rows of results that a notebook shows as an HTML table under its caption.

    A chapter's results used to be printed as aligned text, which a reader cannot sort
    by eye and a test cannot find. A ``Table`` renders as ``<table>`` with a
    ``<caption>`` in a notebook and in the built book (where ``tests/book/test_pages.py``
    looks for every table a chapter promises, by its caption), and as aligned text
    where there is no HTML (``print``, a terminal). Floats show four decimals unless the
    caller formats them.
    """

    def __init__(self, columns, rows, caption: str):
        self.columns = [str(column) for column in columns]
        self.rows = [[self._cell(value) for value in row] for row in rows]
        self.caption = caption
        wrong = [row for row in self.rows if len(row) != len(self.columns)]
        if wrong:
            raise InputError(f"every row needs {len(self.columns)} cells ({', '.join(self.columns)}); got {wrong[0]}")

    @staticmethod
    def _cell(value) -> str:
        if isinstance(value, (float, np.floating)):
            return "" if np.isnan(value) else f"{value:.4f}"
        return str(value)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(column)}</th>" for column in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in self.rows)
        return (f'<table class="selfieseg-table"><caption>{html.escape(self.caption)}</caption>'
                f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    def __str__(self) -> str:
        widths = [max(len(cell) for cell in column) for column in zip(self.columns, *self.rows)]
        lines = [self.caption, "  ".join(c.ljust(w) for c, w in zip(self.columns, widths))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in self.rows]
        return "\n".join(lines)

    __repr__ = __str__


def overlay(image: np.ndarray, mask: np.ndarray, color=(0, 200, 255), alpha: float = 0.3, ignore=None,
            edge_color=(255, 230, 0)) -> np.ndarray:
    """The image with the person tinted, its outline drawn, and ignored pixels hatched grey."""
    import cv2

    out = image.astype(np.float32).copy()
    soft = np.clip(np.asarray(mask, np.float32), 0, 1)
    weight = soft[..., None] * alpha
    out = out * (1 - weight) + np.asarray(color, np.float32) * weight
    if edge_color is not None:
        binary = (soft > 0.5).astype(np.uint8)
        width = max(1, round(max(image.shape[:2]) / 160))
        outline = cv2.morphologyEx(binary, cv2.MORPH_GRADIENT, np.ones((2 * width + 1, 2 * width + 1), np.uint8)) > 0
        out[outline] = edge_color
    if ignore is not None:
        stripes = (np.add.outer(np.arange(image.shape[0]), np.arange(image.shape[1])) // 4) % 2 == 0
        out[np.asarray(ignore, bool) & stripes] = 128
    return np.clip(out, 0, 255).astype(np.uint8)


def gallery(samples, columns: int = 4, titles=None, size: float = 2.6, figure_title: str | None = None):
    """A grid of overlays, one per :class:`~selfieseg.data.Sample` (masks tinted)."""
    import matplotlib.pyplot as plt

    samples = list(samples)
    rows = max(1, int(np.ceil(len(samples) / columns)))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * size, rows * size * 1.2), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i, sample in enumerate(samples):
        ax = axes.ravel()[i]
        shown = sample.image if sample.mask is None else overlay(sample.image, sample.mask, ignore=sample.ignore)
        ax.imshow(shown)
        ax.set_title(titles[i] if titles else sample.name, fontsize=8)
    if figure_title:
        fig.suptitle(figure_title)
    fig.tight_layout()
    return fig


def image_grid(images, columns: int, titles=None, size: float = 2.2, cmap=None):
    """A plain grid of arrays (images or masks)."""
    import matplotlib.pyplot as plt

    images = list(images)
    rows = max(1, int(np.ceil(len(images) / columns)))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * size, rows * size), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i, image in enumerate(images):
        ax = axes.ravel()[i]
        ax.imshow(image, cmap=cmap if np.ndim(image) == 2 else None, vmin=0 if np.ndim(image) == 2 else None, vmax=1 if np.ndim(image) == 2 else None)
        if titles:
            ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    return fig


def unet_diagram(encoder, decoder, skip: str = "concat", title: str = "", extra=None, skip_strides=None):
    """Draw a U-shaped block diagram.

    ``encoder`` / ``decoder``: lists of (label, stride, channels), top to bottom for the
    encoder and bottom to top for the decoder. ``skip`` names how skips merge
    ("concat", "add" or "gate") and labels the arrows. ``extra``: text under the title.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    depth = max(len(encoder), len(decoder))
    if skip_strides is None:
        shared = {s for _, s, _ in encoder} & {s for _, s, _ in decoder}
        skip_strides = shared - {1, max(s for _, s, _ in encoder)}
    fig, ax = plt.subplots(figsize=(10, 0.9 * depth + 1.6))
    ax.set_xlim(0, 10)
    ax.set_ylim(-0.9, depth + 0.4)
    ax.axis("off")

    def box(x, y, label, stride, channels, color):
        ax.add_patch(FancyBboxPatch((x - 1.45, y - 0.32), 2.9, 0.64, boxstyle="round,pad=0.02", fc=color, ec="#333"))
        ax.text(x, y + 0.08, label, ha="center", va="center", fontsize=8.5, weight="bold")
        ax.text(x, y - 0.17, f"1/{stride}  ·  {channels} ch", ha="center", va="center", fontsize=7.5)

    enc_y = {}
    for i, (label, stride, channels) in enumerate(encoder):
        y = depth - i - 0.2
        box(2.0, y, label, stride, channels, "#cfe3ff")
        enc_y[stride] = y
        if i:
            ax.add_patch(FancyArrowPatch((2.0, y + 0.68), (2.0, y + 0.32), arrowstyle="-|>", mutation_scale=10))
    for i, (label, stride, channels) in enumerate(decoder):
        y = depth - len(decoder) + i - 0.2 if len(decoder) < depth else i + depth - len(decoder) - 0.2
        y = min(enc_y.get(stride, y), depth - 0.2) if stride in enc_y else y
        box(8.0, y, label, stride, channels, "#ffe2c6")
        if stride in enc_y and skip and stride in skip_strides:
            ax.add_patch(FancyArrowPatch((3.5, enc_y[stride]), (6.5, y), arrowstyle="-|>", mutation_scale=10, ls="--", color="#555"))
            ax.text(5.0, (enc_y[stride] + y) / 2 + 0.1, skip, ha="center", fontsize=7.5, color="#555")
    ax.text(5.0, depth + 0.2, title, ha="center", fontsize=11, weight="bold")
    if extra:
        ax.text(5.0, -0.7, extra, ha="center", fontsize=8, style="italic")
    fig.tight_layout()
    return fig
