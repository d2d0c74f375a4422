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
def plot_iou(box1, box2, ax=None, labels=("A", "B")):
    """Two "xyxy" boxes, their intersection shaded, and IoU in the title.

    Returns the axes. Coordinates are drawn with y pointing down, as in images.
    """
    from matplotlib.patches import Rectangle

    from homl_cv.boxes import iou

    plt = _plt()
    a, b = (np.asarray(box, dtype=np.float32).reshape(4) for box in (box1, box2))
    if ax is None:
        _, ax = plt.subplots(figsize=(3.6, 3.6))
    for box, color, label in zip((a, b), ("tab:blue", "tab:orange"), labels):
        ax.add_patch(Rectangle(box[:2], *(box[2:] - box[:2]), fill=False, edgecolor=color, linewidth=2))
        ax.text(box[0] + 0.5, box[1] + 0.5, label, color=color, va="top", fontsize=11, weight="bold")
    top_left, bottom_right = np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])
    if np.all(bottom_right > top_left):
        ax.add_patch(Rectangle(top_left, *(bottom_right - top_left), color="tab:green", alpha=0.45,
                               label="intersection"))
        ax.legend(loc="lower right", fontsize=8)
    corners = np.stack([a, b])
    lo, hi = corners[:, :2].min(axis=0), corners[:, 2:].max(axis=0)
    pad = 0.1 * (hi - lo).max()
    ax.set_xlim(lo[0] - pad, hi[0] + pad)
    ax.set_ylim(hi[1] + pad, lo[1] - pad)
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    ax.set_title(f"IoU = {float(iou(a[None], b[None])[0, 0]):.3f}")
    ax.figure.tight_layout()
    return ax


def plot_localization_predictions(images, true_boxes, pred_boxes, true_classes=None,
                                  pred_classes=None, class_names=None, ncols=6, size=1.9):
    """Images with true boxes (green, solid) and predicted boxes (red, dashed).

    Args:
        images: (N, H, W, 3) in [0, 1].
        true_boxes, pred_boxes: (N, 4) "xyxy" pixel boxes.
        true_classes, pred_classes: optional (N,) class ids, shown in the titles
            with each image's IoU.
        class_names: names for the class ids.
    """
    from homl_cv.boxes import paired_iou

    ious = paired_iou(pred_boxes, true_boxes)
    titles = []
    for i, value in enumerate(ious):
        title = f"IoU {value:.2f}"
        if pred_classes is not None:
            name = class_names[pred_classes[i]] if class_names is not None else pred_classes[i]
            wrong = true_classes is not None and pred_classes[i] != true_classes[i]
            title = f"{name}{' ✗' if wrong else ''}\n{title}"
        titles.append(title)
    fig = plot_images(images, titles=titles, ncols=ncols, size=size)
    for ax, true, pred in zip(fig.axes, true_boxes, pred_boxes):
        draw_boxes(ax, true, color="lime")
        draw_boxes(ax, pred, color="red", linestyle="--")
    return fig


def plot_iou_histogram(ious, thresholds=(0.5, 0.75), ax=None, bins=20):
    """Histogram of IoUs in [0, 1], with the share of boxes above each threshold."""
    plt = _plt()
    ious = np.asarray(ious, dtype=np.float32)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3))
    ax.hist(ious, bins=bins, range=(0, 1), color="tab:blue", alpha=0.8)
    for threshold in thresholds:
        share = float(np.mean(ious >= threshold))
        ax.axvline(threshold, color="k", linestyle="--", linewidth=1)
        ax.text(threshold + 0.01, ax.get_ylim()[1] * 0.9, f"{share:.0%} ≥ {threshold}", fontsize=8)
    ax.set_xlabel("IoU with the true box")
    ax.set_ylabel("test images")
    ax.set_title(f"mean IoU {ious.mean():.2f} on {len(ious)} images")
    ax.figure.tight_layout()
    return ax


# ============================================================ 05 detection


# ============================================================ 06 segmentation


# ============================================================ 07 inside a CNN


# ============================================================ 08 style transfer
