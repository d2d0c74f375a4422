"""Plots for the chapters. Every function draws with matplotlib and returns
the figure (or axes) so a notebook can show it and a test can inspect it;
functions that compute something (feature maps, CAM, ...) return arrays and
have a plotting companion.

Example:
    >>> import numpy as np
    >>> fig = plot_images(np.random.rand(4, 8, 8), titles=list("abcd"))  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np


def _plt():
    import matplotlib.pyplot as plt

    return plt


# ============================================================ shared by all chapters
def plot_images(images, titles=None, ncols: int = 8, cmap=None, size: float = 1.6, suptitle=None):
    """A grid of images (N, H, W) or (N, H, W, C); floats in [0, 1] or uint8."""
    plt = _plt()
    images = np.asarray(images)
    n = len(images)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        img = images[i]
        if img.ndim == 3 and img.shape[-1] == 1:
            img = img[..., 0]
        ax.imshow(img, cmap=cmap or ("gray" if img.ndim == 2 else None))
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def plot_learning_curves(history, metrics=("loss", "accuracy"), title=None):
    """Training and validation curves from a Keras ``History`` (or its dict)."""
    plt = _plt()
    hist = getattr(history, "history", history)
    metrics = [m for m in metrics if m in hist]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.2), squeeze=False)
    for ax, metric in zip(axes.flat, metrics):
        epochs = np.arange(1, len(hist[metric]) + 1)
        ax.plot(epochs, hist[metric], "o-", label="train")
        if f"val_{metric}" in hist:
            ax.plot(epochs, hist[f"val_{metric}"], "s--", label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_confusion_matrix(y_true, y_pred, class_names, title="Confusion matrix"):
    """Counts of (true, predicted) pairs, with the counts written in the cells."""
    from sklearn.metrics import confusion_matrix

    plt = _plt()
    cm = confusion_matrix(y_true, y_pred, labels=range(len(class_names)))
    fig, ax = plt.subplots(figsize=(0.45 * len(class_names) + 2.5, 0.45 * len(class_names) + 2))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for (i, j), count in np.ndenumerate(cm):
        ax.text(j, i, count, ha="center", va="center", fontsize=8,
                color="white" if count > cm.max() / 2 else "black")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def draw_boxes(ax, boxes, labels=None, color="lime", linestyle="-", box_format="xyxy"):
    """Draw absolute boxes on a matplotlib axes (after ``ax.imshow``)."""
    from matplotlib.patches import Rectangle

    from homl_cv.boxes import to_xyxy

    boxes = to_xyxy(np.asarray(boxes, dtype=np.float32).reshape(-1, 4), box_format)
    for k, (x1, y1, x2, y2) in enumerate(boxes):
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=color,
                               linewidth=1.8, linestyle=linestyle))
        if labels is not None:
            ax.text(x1, y1 - 1, str(labels[k]), color="black", fontsize=7,
                    bbox=dict(facecolor=color, alpha=0.8, pad=1, edgecolor="none"))
    return ax


# ============================================================ 01 convolutions and pooling


# ============================================================ 02 architectures


# ============================================================ 03 transfer learning


# ============================================================ 04 localization


# ============================================================ 05 detection


# ============================================================ 06 segmentation
SEGMENTATION_COLORS = np.array(
    [[0.0, 0.0, 0.0], [0.90, 0.10, 0.10], [0.10, 0.45, 1.0], [1.0, 0.85, 0.0], [0.10, 0.80, 0.25],
     [0.85, 0.30, 0.90], [0.0, 0.85, 0.85], [1.0, 0.55, 0.0], [0.55, 0.35, 0.15], [1.0, 1.0, 1.0]],
    dtype=np.float32,
)


def mask_to_rgb(masks) -> np.ndarray:
    """Colour class-id masks (..., H, W) as RGB (..., H, W, 3); class 0 (background) is black."""
    masks = np.asarray(masks)
    if not np.issubdtype(masks.dtype, np.integer):
        raise ValueError(f"masks must hold integer class ids; got dtype {masks.dtype}.")
    return SEGMENTATION_COLORS[masks % len(SEGMENTATION_COLORS)]


def overlay_mask(image, mask, alpha: float = 0.55) -> np.ndarray:
    """An image (H, W, 3) in [0, 1] with non-background classes painted over it."""
    image = np.asarray(image, np.float32)
    mask = np.asarray(mask)
    colored = mask_to_rgb(mask)
    weight = alpha * (mask > 0)[..., None]
    return image * (1 - weight) + colored * weight


def plot_segmentation(images, true_masks, pred_masks=None, class_names=None, max_images: int = 4,
                      titles=("image", "true mask", "predicted"), size: float = 2.0):
    """One row per image: the image, its true mask over it, and the prediction over it.

    Args:
        images: (N, H, W, 3) floats in [0, 1].
        true_masks, pred_masks: (N, H, W) class ids; ``pred_masks`` may be a
            dict ``{model name: masks}`` to compare several models side by side.
        class_names: names for the colour legend (index = class id).
    """
    plt = _plt()
    from matplotlib.patches import Patch

    if pred_masks is None:
        preds = {}
    elif isinstance(pred_masks, dict):
        preds = dict(pred_masks)
    else:
        preds = {titles[2]: pred_masks}
    n = min(max_images, len(images))
    ncols = 2 + len(preds)
    fig, axes = plt.subplots(n, ncols, figsize=(size * ncols, size * n + 0.5), squeeze=False)
    for row in range(n):
        panels = [images[row], overlay_mask(images[row], true_masks[row])]
        panels += [overlay_mask(images[row], masks[row]) for masks in preds.values()]
        names = [titles[0], titles[1], *preds]
        for ax, panel, name in zip(axes[row], panels, names):
            ax.imshow(np.clip(panel, 0, 1))
            ax.axis("off")
            if row == 0:
                ax.set_title(name, fontsize=9)
    if class_names is not None:
        handles = [Patch(color=SEGMENTATION_COLORS[k % len(SEGMENTATION_COLORS)], label=name)
                   for k, name in enumerate(class_names) if k > 0]
        fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.05 if class_names is not None else 0, 1, 1))
    return fig




# ============================================================ 07 inside a CNN


# ============================================================ 08 style transfer
