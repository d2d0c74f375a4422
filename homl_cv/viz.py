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
def plot_two_phase_curves(history, metrics=("loss", "accuracy"), title=None):
    """Learning curves of ``training.fit_two_phase``, a line where the base was unfrozen."""
    fig = plot_learning_curves(history.history, metrics=metrics, title=title)
    for ax in fig.axes:
        ax.axvline(history.switch_epoch + 0.5, color="gray", linestyle=":")
        ax.text(history.switch_epoch + 0.6, ax.get_ylim()[1], "unfrozen", va="top",
                fontsize=8, color="gray")
    return fig


def plot_transfer_vs_scratch(comparison, title=None):
    """Validation accuracy per epoch and final test accuracy of the digits experiment.

    ``comparison`` is a ``training.TransferComparison``.
    """
    plt = _plt()
    fig, (ax_curve, ax_bar) = plt.subplots(1, 2, figsize=(9, 3.3),
                                           gridspec_kw={"width_ratios": [2, 1]})
    transfer = comparison.transfer_history.history["val_accuracy"]
    scratch = comparison.scratch_history["val_accuracy"]
    ax_curve.plot(np.arange(1, len(transfer) + 1), transfer, "o-", label="pretrained on 0-4")
    ax_curve.plot(np.arange(1, len(scratch) + 1), scratch, "s--", label="from scratch")
    ax_curve.axvline(comparison.transfer_history.switch_epoch + 0.5, color="gray", linestyle=":")
    ax_curve.set_xlabel("epoch")
    ax_curve.set_ylabel("accuracy on digits 5-9")
    ax_curve.set_ylim(0, 1)
    ax_curve.grid(alpha=0.3)
    ax_curve.legend()
    values = [comparison.transfer_accuracy, comparison.scratch_accuracy]
    bars = ax_bar.bar(["transfer", "scratch"], values, color=["tab:blue", "tab:orange"])
    for bar, value in zip(bars, values):
        ax_bar.text(bar.get_x() + bar.get_width() / 2, value + 0.02, f"{value:.0%}", ha="center")
    ax_bar.set_ylim(0, 1.1)
    ax_bar.set_title(f"test accuracy, {comparison.shots_per_class} labels per class", fontsize=9)
    fig.suptitle(title or "Digits 5-9 with few labels: reuse features or start from scratch?")
    fig.tight_layout()
    return fig


# ============================================================ 04 localization


# ============================================================ 05 detection


# ============================================================ 06 segmentation


# ============================================================ 07 inside a CNN


# ============================================================ 08 style transfer
