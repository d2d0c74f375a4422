"""Plots for the chapters. Every function draws with matplotlib and returns
the figure (or axes) so a notebook can show it and a test can inspect it.

This module only draws: what a plot shows is computed elsewhere (feature
maps, CAM and Grad-CAM in :mod:`homl_cv.interpret`, IoU in
:mod:`homl_cv.boxes`, sizes in :mod:`homl_cv.conv`) and passed in or called.

Example:
    >>> import numpy as np
    >>> fig = plot_images(np.random.rand(4, 8, 8), titles=list("abcd"))  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from homl_cv import boxes as boxes_lib
from homl_cv import checks, conv, interpret, models

__all__ = [
    "SEGMENTATION_COLORS",
    "draw_boxes",
    "mask_to_rgb",
    "overlay_mask",
    "plot_anchors",
    "plot_confusion_matrix",
    "plot_detections",
    "plot_feature_map_sizes",
    "plot_fcn_skips",
    "plot_feature_maps",
    "plot_filter_responses",
    "plot_heatmaps",
    "plot_images",
    "plot_iou",
    "plot_iou_histogram",
    "plot_learning_curves",
    "plot_localization_predictions",
    "plot_nms",
    "plot_padding_and_strides",
    "plot_precision_recall",
    "plot_segmentation",
    "plot_style_losses",
    "plot_style_transfer",
    "plot_transfer_vs_scratch",
    "plot_two_phase_curves",
    "plot_unet",
    "plot_value_grids",
    "plot_window_scores",
    "stretched",
]


def _plt():
    import matplotlib.pyplot as plt

    return plt


# ============================================================ shared by all chapters
def _image_grid(n: int, ncols: int, size: float):
    """A figure with ``n`` image axes in rows of ``ncols`` (axis lines off)."""
    plt = _plt()
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    return fig, list(axes.flat)[:n]


def _finish_grid(fig, axes, titles=None, suptitle=None):
    """Title each axes and the figure, tighten the layout, return the figure."""
    for ax, title in zip(axes, titles if titles is not None else []):
        ax.set_title(str(title), fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def stretched(image, percentiles=(1, 99)) -> np.ndarray:
    """``image`` with its contrast stretched for display: the two percentiles go to 0 and 1.

    Computed over all pixels and channels of this one image (so colours keep their balance)
    and clipped to [0, 1]. A gray image with faint structure, such as a filter visualization
    that moved little from its gray start, becomes visible; a constant image becomes 0.5 gray.

    Example:
        >>> stretched(np.array([[0.25, 0.5], [0.5, 0.75]]), (0, 100)).tolist()
        [[0.0, 0.5], [0.5, 1.0]]
    """
    low, high = _percentile_pair(percentiles)
    image = np.asarray(image, np.float64)
    lo, hi = np.percentile(image, [low, high])
    if hi - lo < 1e-12:
        return np.full(image.shape, 0.5)
    return np.clip((image - lo) / (hi - lo), 0.0, 1.0)


def _percentile_pair(percentiles) -> tuple:
    try:
        low, high = (float(p) for p in percentiles)
    except (TypeError, ValueError):
        low = high = None
    if low is None or not 0 <= low < high <= 100:
        raise ValueError(f"percentiles={percentiles!r} must be two numbers 0 <= low < high <= 100, "
                         f"e.g. (1, 99).")
    return low, high


def plot_images(images, titles=None, ncols: int = 8, cmap=None, size: float = 1.6, suptitle=None,
                stretch=None):
    """A grid of images (N, H, W) or (N, H, W, C); floats in [0, 1] or uint8.

    ``stretch=(low, high)`` shows each image with its own contrast stretched
    (:func:`stretched`, those percentiles to black and white), for images whose
    values sit in a narrow range, such as filter visualizations.
    """
    images = np.asarray(images)
    if stretch is not None:
        _percentile_pair(stretch)
    fig, axes = _image_grid(len(images), ncols, size)
    for i, ax in enumerate(axes):
        img = images[i] if stretch is None else stretched(images[i], stretch)
        if img.ndim == 3 and img.shape[-1] == 1:
            img = img[..., 0]
        ax.imshow(img, cmap=cmap or ("gray" if img.ndim == 2 else None))
    return _finish_grid(fig, axes, titles, suptitle)


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

    boxes = boxes_lib.to_xyxy(np.asarray(boxes, dtype=np.float32).reshape(-1, 4), box_format)
    for k, (x1, y1, x2, y2) in enumerate(boxes):
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=color,
                               linewidth=1.8, linestyle=linestyle))
        if labels is not None:
            ax.text(x1, y1 - 1, str(labels[k]), color="black", fontsize=7,
                    bbox=dict(facecolor=color, alpha=0.8, pad=1, edgecolor="none"))
    return ax


# ============================================================ 01 convolutions and pooling
def plot_padding_and_strides(n: int = 13, kernel: int = 6, stride: int = 5):
    """Where the windows of a 1-D convolution fall, for "valid" and "same".

    One row of ``n`` input cells per padding mode; "same" adds grey zero cells
    (the odd one on the right, as TensorFlow does). Each window of ``kernel``
    cells, ``stride`` apart, is drawn as a coloured bar above the cells it
    covers, numbered by the output it produces; inputs no window reaches are
    hatched.
    """
    from matplotlib.patches import Rectangle

    plt = _plt()
    colors = plt.get_cmap("tab10").colors
    fig, axes = plt.subplots(2, 1, figsize=(0.5 * (n + kernel) + 1.5, 4.6))
    most_before, most_after = conv.same_padding(n, kernel, stride)
    for ax, padding in zip(axes, ("valid", "same")):
        before, after = conv.same_padding(n, kernel, stride) if padding == "same" else (0, 0)
        outputs = conv.output_size(n, kernel, stride, padding)
        covered = np.zeros(n + before + after, bool)
        for o in range(outputs):
            covered[o * stride:o * stride + kernel] = True
        for cell in range(-before, n + after):
            is_pad = cell < 0 or cell >= n
            ax.add_patch(Rectangle((cell, 0), 1, 1, edgecolor="black",
                                   facecolor="0.75" if is_pad else "white",
                                   hatch=None if covered[cell + before] else "//"))
            ax.text(cell + 0.5, 0.5, "0" if is_pad else str(cell), ha="center", va="center",
                    fontsize=8, color="0.3" if is_pad else "black")
        for o in range(outputs):
            start = o * stride - before
            y = 1.25 + 0.45 * o
            ax.add_patch(Rectangle((start + 0.05, y), kernel - 0.1, 0.32,
                                   color=colors[o % len(colors)], alpha=0.75))
            ax.text(start + kernel / 2, y + 0.16, f"output {o}", ha="center", va="center", fontsize=8)
        ax.set_xlim(-most_before - 0.5, n + most_after + 0.5)
        ax.set_ylim(-0.2, 1.5 + 0.45 * outputs)
        ax.set_aspect("equal")
        ax.axis("off")
        note = f", zero padding {before} left + {after} right" if padding == "same" else ""
        ax.set_title(f'padding="{padding}": {n} inputs, kernel {kernel}, stride {stride} '
                     f"-> {outputs} outputs{note}", fontsize=10)
    fig.tight_layout()
    return fig


def plot_filter_responses(images, feature_maps, map_titles=None, size: float = 2.6):
    """Each image next to its feature maps, one row per image.

    Args:
        images: (N, H, W, 3) floats in [0, 1] (or (N, H, W) grayscale).
        feature_maps: (N, h, w, K) arrays, e.g. a conv layer's outputs;
            each map is shown in gray with its own contrast.
        map_titles: K titles for the maps' columns.
    """
    plt = _plt()
    images, feature_maps = np.asarray(images), np.asarray(feature_maps)
    n, k = feature_maps.shape[0], feature_maps.shape[-1]
    fig, axes = plt.subplots(n, k + 1, figsize=(size * (k + 1), size * 0.75 * n + 0.3), squeeze=False)
    for row in range(n):
        axes[row, 0].imshow(images[row], cmap="gray" if images[row].ndim == 2 else None)
        for col in range(k):
            axes[row, col + 1].imshow(feature_maps[row, ..., col], cmap="gray")
    for col, title in enumerate(["input"] + list(map_titles or [f"map {c}" for c in range(k)])):
        axes[0, col].set_title(title, fontsize=10)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_value_grids(grids, titles, nrows: int = 1, fmt: str = "{:.0f}", size: float = 2.2):
    """Small 2-D arrays drawn as heat maps with their values written in the
    cells (e.g. an image, its shifted copy, and what pooling makes of them)."""
    plt = _plt()
    ncols = -(-len(grids) // nrows)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.4), squeeze=False)
    vmax = max(float(np.max(g)) for g in grids)
    for ax in axes.flat:
        ax.axis("off")
    for ax, grid, title in zip(axes.flat, grids, titles):
        grid = np.asarray(grid)
        ax.imshow(grid, cmap="Blues", vmin=0, vmax=vmax)
        for (i, j), value in np.ndenumerate(grid):
            ax.text(j, i, fmt.format(value), ha="center", va="center", fontsize=8,
                    color="white" if value > vmax / 2 else "black")
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig



# ============================================================ 02 architectures
def plot_feature_map_sizes(model, title=None):
    """How the feature maps shrink and deepen through ``model``, layer by layer.

    Top panel: the side of the feature maps (height, log scale); bottom
    panel: their number (channels, log scale), for every layer whose output
    is an image (H, W, C). Reads the shapes from
    :func:`homl_cv.models.layer_table`.
    """
    plt = _plt()
    rows = [(name, shape) for name, _, shape, _ in models.layer_table(model) if len(shape) == 3]
    if not rows:
        raise ValueError(f"model {model.name!r} has no layer with an (H, W, C) output to plot.")
    names = [name for name, _ in rows]
    sides = [shape[0] for _, shape in rows]
    depths = [shape[2] for _, shape in rows]
    x = np.arange(len(rows))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(max(6.0, 0.42 * len(rows) + 2), 5.2), sharex=True)
    top.bar(x, sides, color="tab:blue")
    top.set_yscale("log", base=2)
    top.set_ylabel("feature map side (px)")
    bottom.bar(x, depths, color="tab:orange")
    bottom.set_yscale("log", base=2)
    bottom.set_ylabel("feature maps (channels)")
    for ax, values in ((top, sides), (bottom, depths)):
        ax.grid(axis="y", alpha=0.3)
        for xi, value in zip(x, values):
            ax.text(xi, value, str(value), ha="center", va="bottom", fontsize=7)
        ax.margins(y=0.25)
    bottom.set_xticks(x, names, rotation=60, ha="right", fontsize=8)
    fig.suptitle(title or f"{model.name}: feature map sizes, input {'x'.join(map(str, model.input_shape[1:]))}")
    fig.tight_layout()
    return fig


# ============================================================ 03 transfer learning
def plot_two_phase_curves(history, metrics=("loss", "accuracy"), title=None):
    """Learning curves of ``training.fit_two_phase``, a line where the base was unfrozen."""
    fig = plot_learning_curves(history.history, metrics=metrics, title=title)
    for ax in fig.axes:
        ax.axvline(history.switch_epoch + 0.5, color="gray", linestyle=":")
        ax.text(history.switch_epoch + 0.6, ax.get_ylim()[1], "unfrozen", va="top",
                fontsize=8, color="gray")
    return fig


def plot_transfer_vs_scratch(comparisons, title=None):
    """Accuracy per epoch and final test accuracy of the transfer-vs-scratch experiment.

    Args:
        comparisons: one ``training.TransferComparison`` or a list of them
            (one per seed). Left: the accuracy on the target test images after
            each epoch, one thin line per seed and the mean in bold, a dotted
            line where the base was unfrozen. Right: the mean test accuracy,
            one dot per seed and an error bar of one standard deviation.
    """
    plt = _plt()
    if not isinstance(comparisons, (list, tuple)):
        comparisons = [comparisons]
    first = comparisons[0]
    fig, (ax_curve, ax_bar) = plt.subplots(1, 2, figsize=(9, 3.3),
                                           gridspec_kw={"width_ratios": [2, 1]})
    runs = (("transfer", "tab:blue", "o-", [c.transfer_history.history["val_accuracy"] for c in comparisons],
             [c.transfer_accuracy for c in comparisons]),
            ("scratch", "tab:orange", "s--", [c.scratch_history["val_accuracy"] for c in comparisons],
             [c.scratch_accuracy for c in comparisons]))
    for label, color, style, curves, _ in runs:
        curves = np.asarray(curves)
        epochs = np.arange(1, curves.shape[1] + 1)
        for curve in curves:
            ax_curve.plot(epochs, curve, "-", color=color, alpha=0.25, linewidth=1)
        name = f"pretrained on {first.source_task}" if label == "transfer" else "from scratch"
        ax_curve.plot(epochs, curves.mean(axis=0), style, color=color, label=f"{name} (mean)")
    ax_curve.axvline(first.transfer_history.switch_epoch + 0.5, color="gray", linestyle=":")
    ax_curve.text(first.transfer_history.switch_epoch + 0.6, 0.03, "unfrozen", fontsize=8, color="gray")
    ax_curve.set_xlabel("epoch")
    ax_curve.set_ylabel(f"test accuracy, {first.target_task}")
    ax_curve.set_ylim(0, 1)
    ax_curve.grid(alpha=0.3)
    ax_curve.legend(loc="upper left", fontsize=8)
    for x, (label, color, _, _, finals) in enumerate(runs):
        finals = np.asarray(finals)
        ax_bar.bar(x, finals.mean(), yerr=finals.std(), color=color, alpha=0.7, capsize=4)
        ax_bar.plot(np.full(len(finals), x), finals, "k.", markersize=6)
        ax_bar.text(x, finals.mean() + finals.std() + 0.04, f"{finals.mean():.0%}", ha="center")
    ax_bar.set_xticks([0, 1], ["transfer", "scratch"])
    ax_bar.set_ylim(0, 1.12)
    ax_bar.set_title(f"{len(comparisons)} seeds, {first.shots_per_class} labels per class", fontsize=9)
    fig.suptitle(title or f"{first.target_task} with few labels: reuse features or start from scratch?")
    fig.tight_layout()
    return fig


# ============================================================ 04 localization
def plot_iou(box1, box2, ax=None, labels=("A", "B")):
    """Two "xyxy" boxes, their intersection shaded, and IoU in the title.

    Returns the axes. Coordinates are drawn with y pointing down, as in images.
    """
    from matplotlib.patches import Rectangle

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
    ax.set_title(f"IoU = {float(boxes_lib.iou(a[None], b[None])[0, 0]):.3f}")
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
    ious = boxes_lib.paired_iou(pred_boxes, true_boxes)
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
SEGMENTATION_COLORS = np.array(
    [[0.0, 0.0, 0.0], [0.90, 0.10, 0.10], [0.10, 0.45, 1.0], [1.0, 0.85, 0.0], [0.10, 0.80, 0.25],
     [0.85, 0.30, 0.90], [0.0, 0.85, 0.85], [1.0, 0.55, 0.0], [0.55, 0.35, 0.15], [1.0, 1.0, 1.0]],
    dtype=np.float32,
)


def mask_to_rgb(masks) -> np.ndarray:
    """Colour class-id masks (..., H, W) as RGB (..., H, W, 3); class 0 (background) is black."""
    masks = checks.integers(masks, "masks", "class ids")
    return SEGMENTATION_COLORS[masks % len(SEGMENTATION_COLORS)]


def overlay_mask(image, mask, alpha: float = 0.85, contour: bool = True) -> np.ndarray:
    """The image in dimmed grey with each class painted in its own colour, outlined in white.

    The image's own colours are dropped (grey, 60 % brightness) so that the
    class colours cannot be mistaken for the objects' colours; ``alpha`` of
    each class colour covers its pixels, and with ``contour`` every pixel
    whose 4-neighbourhood holds another class is drawn white.

    Args:
        image: (H, W, 3) floats in [0, 1].
        mask: (H, W) integer class ids, 0 = background (left unpainted).

    Returns:
        float32 (H, W, 3) in [0, 1].
    """
    image = np.asarray(image, np.float32)
    mask = np.asarray(mask)
    checks.shaped(mask, "mask", image.shape[:2], "the image's (H, W)")
    grey = np.repeat(0.6 * image.mean(axis=-1, keepdims=True), 3, axis=-1)
    weight = alpha * (mask > 0)[..., None]
    out = grey * (1 - weight) + mask_to_rgb(mask) * weight
    if contour:
        padded = np.pad(mask, 1, mode="edge")
        edge = ((padded[1:-1, 1:-1] != padded[:-2, 1:-1]) | (padded[1:-1, 1:-1] != padded[2:, 1:-1])
                | (padded[1:-1, 1:-1] != padded[1:-1, :-2]) | (padded[1:-1, 1:-1] != padded[1:-1, 2:]))
        out[edge & (mask > 0)] = 1.0
    return out.astype(np.float32)


def plot_segmentation(images, true_masks, pred_masks=None, class_names=None, max_images: int = 4,
                      titles=("image", "true mask", "predicted"), size: float = 2.0):
    """One row per image: the image, its true mask, and the predictions (:func:`overlay_mask`).

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



def _box(ax, x, y, w, h, color, label=None, fontsize=7):
    from matplotlib.patches import Rectangle

    ax.add_patch(Rectangle((x, y), w, h, facecolor=color, edgecolor="black", linewidth=0.6))
    if label:
        ax.text(x + w / 2, y - 0.25, label, ha="center", va="top", fontsize=fontsize)


def _arrow(ax, start, end, color="black", text=None, style="-|>"):
    ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle=style, color=color, lw=1.0))
    if text:
        ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.15, text, ha="center", va="bottom",
                fontsize=7, color=color)


def plot_fcn_skips(image_size: int = 64):
    """FCN-32s, 16s and 8s side by side: where the class scores come from and how they are upsampled.

    Each row draws the backbone (image, pool1 ... pool5, box height = map
    side), then the score path: a 1x1 convolution scores pool5 (stride 32);
    16s and 8s upsample by 2 and *add* the 1x1 scores of pool4 (and pool3)
    before the final upsampling by 16 (8).
    """
    plt = _plt()
    fig, axes = plt.subplots(3, 1, figsize=(8.5, 6.0))
    sides = [image_size // 2 ** k for k in range(6)]            # image, pool1 .. pool5
    scale = 2.2 / image_size
    for ax, (variant, skips) in zip(axes, [("FCN-32s", 0), ("FCN-16s", 1), ("FCN-8s", 2)]):
        xs = np.arange(6) * 1.1
        for k, (x, side) in enumerate(zip(xs, sides)):
            h = max(side * scale, 0.12)
            _box(ax, x, 1.2 - h / 2, 0.55, h, "#cfe2f3" if k else "#eeeeee",
                 "image" if k == 0 else f"pool{k}\n{side}x{side}")
        for k in range(5):
            _arrow(ax, (xs[k] + 0.55, 1.2), (xs[k + 1], 1.2))
        # score path, right of pool5
        x = xs[5] + 1.0
        _arrow(ax, (xs[5] + 0.55, 1.2), (x, 1.2), text="1x1 conv")
        _box(ax, x, 1.2 - 0.15, 0.35, 0.3, "#f4cccc", "scores\nstride 32")
        stride = 32
        for level in (4, 3)[:skips]:
            x_next = x + 1.3
            _arrow(ax, (x + 0.35, 1.2), (x_next, 1.2), text="x2 up")
            ax.text(x_next + 0.15, 1.2, "+", ha="center", va="center", fontsize=14, color="#cc0000")
            # the skip: 1x1 scores of pool{level}, drawn as an arc from the backbone
            ax.annotate("", xy=(x_next + 0.15, 1.05), xytext=(xs[level] + 0.27, 1.2 - sides[level] * scale / 2),
                        arrowprops=dict(arrowstyle="-|>", color="#cc0000", lw=1.0, connectionstyle="arc3,rad=0.25"))
            stride //= 2
            x = x_next + 0.3
            _box(ax, x, 1.2 - 0.15, 0.35, 0.3, "#f4cccc", f"stride {stride}")
        _arrow(ax, (x + 0.35, 1.2), (x + 1.4, 1.2), text=f"x{stride} up")
        _box(ax, x + 1.4, 1.2 - 1.1, 0.5, 2.2, "#d9ead3", "per-pixel\nlogits")
        ax.set_title(f"{variant}: final upsampling x{stride}" + ("" if not skips else
                     f", skips from {' and '.join(f'pool{l}' for l in (4, 3)[:skips])} (red)"), fontsize=9)
        ax.set_xlim(-0.2, 12.8)
        ax.set_ylim(-0.9, 2.5)
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_unet(filters=(8, 16, 32, 64), image_size: int = 64):
    """The U-Net of :func:`homl_cv.segmentation.build_unet`: the encoder down the left, the decoder
    up the right, and a skip connection (concatenation) across at every level.

    Box heights follow the map side, widths the channel count; labels give
    ``side x side x channels``.
    """
    plt = _plt()
    levels = len(filters)
    fig, ax = plt.subplots(figsize=(8.5, 0.9 + 1.0 * levels))
    y = lambda level: (levels - 1 - level) * 1.0                # noqa: E731 - level 0 at the top
    width = lambda c: 0.15 + 0.5 * c / max(filters)              # noqa: E731
    for level, c in enumerate(filters):
        side = image_size // 2 ** level
        h = 0.2 + 0.5 * side / image_size
        x_enc = 0.5 + level * 0.9
        if level < levels - 1:
            _box(ax, x_enc, y(level) - h / 2, width(c), h, "#cfe2f3", f"{side}x{side}x{c}")
            x_dec = 10.5 - level * 0.9
            _box(ax, x_dec, y(level) - h / 2, width(2 * c) , h, "#fff2cc", f"{side}x{side}x{2 * c}")
            _arrow(ax, (x_enc + width(c), y(level)), (x_dec, y(level)), color="#999999",
                   text="copy + concatenate (skip)")
            _arrow(ax, (x_enc + width(c) / 2, y(level) - h / 2), (x_enc + 0.9 + 0.1, y(level + 1) + 0.2),
                   color="#cc0000")
            _arrow(ax, (x_dec - 0.9 + 0.2, y(level + 1) + 0.2), (x_dec + 0.05, y(level) - h / 2), color="#38761d")
        else:
            _box(ax, x_enc, y(level) - h / 2, 10.5 - (levels - 1) * 0.9 - x_enc + 0.3, h, "#d9d2e9",
                 f"bottom {side}x{side}x{c}")
    ax.text(0.2, y(0) + 0.55, "image", fontsize=8)
    ax.text(11.2, y(0) + 0.55, "1x1 conv -> logits", fontsize=8)
    ax.text(0.3, y(levels - 1) - 0.2, "encoder: two 3x3 convs,\nthen 2x2 max pool (red)", fontsize=8, va="top")
    ax.text(9.0, y(levels - 1) - 0.2, "decoder: 2x2 stride-2 transposed conv (green),\n"
            "concatenate, two 3x3 convs", fontsize=8, va="top")
    ax.set_xlim(0, 13)
    ax.set_ylim(-1.1, levels - 0.2)
    ax.axis("off")
    ax.set_title(f"U-Net, {levels} levels (box height ~ map side, width ~ channels)", fontsize=9)
    fig.tight_layout()
    return fig




# ============================================================ 07 inside a CNN (computed by homl_cv.interpret)
def plot_feature_maps(maps, max_channels: int = 16, ncols: int = 8, title=None, size: float = 1.2):
    """The first ``max_channels`` channels of one image's maps (h, w, c), one panel each."""
    maps = np.asarray(maps)
    if maps.ndim != 3:
        raise ValueError(
            f"maps must be one image's feature maps (h, w, channels); got shape {maps.shape} "
            f"(for a batch from feature_maps, pass maps[0])."
        )
    channels = min(max_channels, maps.shape[-1])
    panels = np.moveaxis(maps[..., :channels], -1, 0)
    return plot_images(panels, titles=[f"#{k}" for k in range(channels)], ncols=ncols,
                       cmap="viridis", size=size, suptitle=title)


def _normalize(heatmap: np.ndarray) -> np.ndarray:
    low, high = heatmap.min(), heatmap.max()
    return (heatmap - low) / (high - low) if high > low else np.zeros_like(heatmap)


def plot_heatmaps(images, heatmaps, boxes=None, titles=None, ncols: int = 6,
                  alpha: float = 0.5, size: float = 2.0, suptitle=None):
    """Images with their heatmaps (CAM, Grad-CAM, occlusion) laid over them.

    Each map is resized to its image and scaled to [0, 1] for display; its
    peak is marked with a white cross, and ``boxes`` (one "xyxy" box per image,
    optional) are drawn in lime.
    """
    images = checks.image_batch(images, dtype=np.float32)
    heatmaps = np.asarray(heatmaps, dtype=np.float32)
    if heatmaps.ndim == 2:
        heatmaps = heatmaps[None]
    big = interpret.upsample_heatmaps(heatmaps, images.shape[1:3])
    peaks = interpret.heatmap_peaks(heatmaps, images.shape[1:3])
    fig, axes = _image_grid(len(images), ncols, size)
    for i, ax in enumerate(axes):
        img = images[i]
        ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray" if img.shape[-1] == 1 else None)
        ax.imshow(_normalize(big[i]), cmap="jet", alpha=alpha, vmin=0, vmax=1)
        ax.plot(*peaks[i], "w+", markersize=10, markeredgewidth=2)
        if boxes is not None:
            draw_boxes(ax, np.asarray(boxes)[i])
    return _finish_grid(fig, axes, titles, suptitle)


# ============================================================ 08 style transfer
def plot_style_transfer(content_image, style_image, result_image, titles=("content", "style", "result")):
    """The content photo, the style image and the stylized result side by side."""
    return plot_images([np.asarray(content_image), np.asarray(style_image), np.asarray(result_image)],
                       titles=list(titles), ncols=3, size=3.2)


def plot_style_losses(history, weights=None, title="Style transfer losses"):
    """Each loss of a ``StyleTransferResult.history`` per step, on a log scale.

    ``weights`` (e.g. ``{"content": 1.0, "style": 1.0, "tv": 0.5}``) multiplies
    the terms, so the curves show what each contributes to the total.
    """
    plt = _plt()
    weights = weights or {}
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for key, values in history.items():
        values = np.asarray(values) * weights.get(key, 1.0)
        steps = np.arange(len(values))
        positive = values > 0
        ax.plot(steps[positive], values[positive], lw=2.5 if key == "total" else 1.5,
                label=key if key not in weights else f"{weights[key]:g} x {key}")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("weighted loss (log scale)" if weights else "loss (log scale)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig
