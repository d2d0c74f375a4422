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
def plot_window_scores(image, scores, window: int, stride: int, title="objectness per window"):
    """An image and, next to it, a score per sliding-window position.

    ``scores`` is (rows, cols); window (i, j) covers pixels from
    (i * stride, j * stride), so its score is drawn at the window's centre.
    """
    plt = _plt()
    scores = np.asarray(scores)
    rows, cols = scores.shape
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.4))
    axes[0].imshow(image)
    axes[0].set_title("image")
    half = window / 2
    extent = (half - stride / 2, half + (cols - 0.5) * stride, half + (rows - 0.5) * stride, half - stride / 2)
    axes[1].imshow(image)
    shown = axes[1].imshow(scores, extent=extent, alpha=0.6, cmap="magma", vmin=0, vmax=1)
    axes[1].set_xlim(0, image.shape[1])
    axes[1].set_ylim(image.shape[0], 0)
    axes[1].set_title(title)
    fig.colorbar(shown, ax=axes[1], fraction=0.046)
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_nms(image, boxes, scores, kept, title="non-max suppression"):
    """Candidate boxes with their scores (left) and the boxes NMS kept (right)."""
    plt = _plt()
    boxes, scores = np.asarray(boxes), np.asarray(scores)
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.6))
    for ax, idx, name in [(axes[0], np.arange(len(boxes)), f"{len(boxes)} candidates"),
                          (axes[1], np.asarray(kept, int), f"{len(kept)} kept")]:
        ax.imshow(image)
        draw_boxes(ax, boxes[idx], labels=[f"{s:.2f}" for s in scores[idx]],
                   color="yellow" if ax is axes[0] else "lime")
        ax.set_title(name)
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_anchors(sizes, anchors, assignment=None, title="box sizes and k-means anchors"):
    """Box (width, height) pairs coloured by their anchor, anchors as stars."""
    plt = _plt()
    sizes, anchors = np.asarray(sizes), np.asarray(anchors)
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    ax.scatter(sizes[:, 0], sizes[:, 1], s=6, alpha=0.5, c=assignment, cmap="tab10" if assignment is not None else None)
    ax.scatter(anchors[:, 0], anchors[:, 1], marker="*", s=260, c="black", label="anchors")
    for w, h in anchors:
        ax.annotate(f"{w:.0f}x{h:.0f}", (w, h), textcoords="offset points", xytext=(8, 6), fontsize=9)
    ax.set_xlabel("box width (pixels)")
    ax.set_ylabel("box height (pixels)")
    ax.set_title(title)
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_precision_recall(precision, recall, recall_points: int = 11, title=None):
    """A precision/recall curve, its "max precision at recall >= r" envelope
    and the recall levels AP averages over."""
    plt = _plt()
    precision, recall = np.asarray(precision), np.asarray(recall)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    levels = np.round(np.linspace(0, 1, recall_points), 10)
    where = np.searchsorted(recall, levels, side="left")
    at_levels = np.where(where < len(recall), envelope[np.minimum(where, len(recall) - 1)], 0.0)
    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.plot(recall, precision, "o-", color="tab:blue", alpha=0.6, label="precision after each detection")
    ax.step(recall, envelope, where="post", color="tab:orange", label="max precision at recall >= r")
    ax.plot(levels, at_levels, "s", color="tab:red", label=f"{recall_points} recall levels")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.05)
    ax.set_title(title or f"AP = mean of the red squares = {at_levels.mean():.3f}")
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_detections(images, predictions, true_boxes=None, class_names=None, ncols: int = 4,
                    min_score: float = 0.3, size: float = 2.4):
    """Images with predicted boxes (lime, "class score") and true boxes (dashed white).

    ``predictions`` is a list of dicts with "boxes", "scores", "classes";
    boxes scoring below ``min_score`` are not drawn.
    """
    plt = _plt()
    n = len(images)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(images[i])
        if true_boxes is not None:
            truth = np.asarray(true_boxes[i])
            draw_boxes(ax, truth[truth[:, 0] >= 0], color="white", linestyle="--")
        pred = predictions[i]
        shown = np.asarray(pred["scores"]) >= min_score
        names = [class_names[int(c)] if class_names is not None else str(int(c)) for c in np.asarray(pred["classes"])[shown]]
        draw_boxes(ax, np.asarray(pred["boxes"])[shown],
                   labels=[f"{name} {s:.2f}" for name, s in zip(names, np.asarray(pred["scores"])[shown])])
    fig.tight_layout()
    return fig


# ============================================================ 06 segmentation


# ============================================================ 07 inside a CNN


# ============================================================ 08 style transfer
