"""Training helpers: compiling and fitting the chapters' models, transfer learning.

Example:
    >>> from homl_cv import training  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses

import numpy as np


# ============================================================ 02 architectures (classifiers)
def scale_images(images) -> np.ndarray:
    """uint8 images (N, H, W) or (N, H, W, C) in 0-255 -> float32 (N, H, W, C) in [0, 1]."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4:
        raise ValueError(
            f"images has shape {images.shape}: expected (N, H, W) grayscale or (N, H, W, C)."
        )
    return images.astype(np.float32) / 255.0


def fit_classifier(model, splits, epochs: int, batch_size: int = 32, learning_rate: float = 1e-3,
                   verbose="auto", callbacks=None):
    """Compile ``model`` for integer labels and train it on ``splits``.

    Scales the images with :func:`scale_images`, compiles with
    ``Adam(learning_rate=learning_rate)``, sparse categorical cross-entropy
    and accuracy, and fits on ``splits.x_train`` with ``splits.x_valid`` as
    validation data (Keras prints a progress bar per epoch).

    Args:
        model: a Keras classifier with a softmax output, e.g. ``models.lenet5()``.
        splits: a :class:`homl_cv.data.ImageSplits` (e.g. ``data.load_mnist()``).
        epochs: number of passes over the training set.
        learning_rate: a float, or a ``keras.optimizers.schedules`` schedule.

    Returns:
        The Keras ``History`` (``history.history["val_accuracy"]`` etc.).
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs={epochs!r} must be a positive integer.")
    compile_classifier(model, learning_rate, "adam", jit_compile="auto")  # Keras' default
    return model.fit(
        scale_images(splits.x_train), splits.y_train,
        validation_data=(scale_images(splits.x_valid), splits.y_valid),
        epochs=epochs, batch_size=batch_size, verbose=verbose, callbacks=callbacks,
    )


def predict_classes(model, images, batch_size: int = 256) -> np.ndarray:
    """Predicted class ids (N,) for uint8 ``images`` (scaled like in training)."""
    probas = model.predict(scale_images(images), batch_size=batch_size, verbose=0)
    return probas.argmax(axis=-1)


def classifier_accuracy(model, images, labels) -> float:
    """Fraction of ``images`` (uint8) whose predicted class equals ``labels``."""
    return float(np.mean(predict_classes(model, images) == np.asarray(labels)))


# ============================================================ 03 transfer learning


def build_transfer_model(base, num_classes: int, dropout: float = 0.2, name: str = "transfer"):
    """A new classification head on a (pretrained) base.

    ``inputs -> base(training=False) -> GlobalAveragePooling2D -> Dropout ->
    Dense(num_classes, softmax, float32)``. The base is called with
    ``training=False``, so its BatchNormalization layers stay in inference
    mode (they keep their ImageNet statistics) even after they are unfrozen;
    the output layer is float32 so the softmax stays accurate under mixed
    precision.

    Args:
        base: a Keras model mapping images to a feature map (N, h, w, c), e.g.
            ``homl_cv.pretrained.build_base(...).model``.
        num_classes: classes of the new task.
        dropout: dropout rate before the output layer.

    Example:
        >>> import keras
        >>> base = keras.applications.MobileNetV2(include_top=False, weights=None,
        ...                                       input_shape=(96, 96, 3))
        >>> model = build_transfer_model(base, 5)
        >>> model.output_shape
        (None, 5)
    """
    import keras

    if num_classes < 2:
        raise ValueError(f"num_classes={num_classes} must be at least 2.")
    if len(base.output_shape) != 4:
        raise ValueError(
            f"base outputs shape {base.output_shape}: expected a feature map (N, h, w, c); "
            f"build the base with include_top=False."
        )
    inputs = keras.Input(shape=base.input_shape[1:], name="images")
    features = base(inputs, training=False)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(features)
    x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", dtype="float32",
                                 name="head")(x)
    return keras.Model(inputs, outputs, name=name)


def freeze(base) -> None:
    """Make every weight of ``base`` non-trainable (recompile the model after)."""
    base.trainable = False


def unfreeze(base, from_layer: int = 0) -> None:
    """Make ``base`` trainable from layer index ``from_layer`` on (recompile after).

    ``from_layer=0`` unfreezes everything; e.g. ``from_layer=56`` keeps
    Xception's first 56 layers (its low-level filters) frozen. The base's
    BatchNormalization layers stay frozen, so they run in inference mode and
    keep their ImageNet statistics.
    """
    if not 0 <= from_layer < len(base.layers):
        raise ValueError(
            f"from_layer={from_layer} must be between 0 and {len(base.layers) - 1} "
            f"(the base has {len(base.layers)} layers)."
        )
    import keras

    base.trainable = True
    for index, layer in enumerate(base.layers):
        # BatchNormalization stays frozen: a frozen BN layer runs in inference
        # mode in Keras 3, keeping its ImageNet statistics
        layer.trainable = (index >= from_layer
                           and not isinstance(layer, keras.layers.BatchNormalization))


def compile_classifier(model, learning_rate: float, optimizer: str = "sgd",
                       jit_compile=False) -> None:
    """Compile for sparse labels: cross-entropy loss, accuracy metric.

    ``optimizer`` is "sgd" (momentum 0.9, as in the book) or "adam".
    ``jit_compile=True`` compiles with XLA (see ``config.setup_device``).
    """
    import keras

    if optimizer == "sgd":
        opt = keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9)
    elif optimizer == "adam":
        opt = keras.optimizers.Adam(learning_rate=learning_rate)
    else:
        raise ValueError(f"optimizer={optimizer!r}: use 'sgd' or 'adam'.")
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], jit_compile=jit_compile)


class TwoPhaseHistory:
    """Histories of the frozen phase and the fine-tuning phase.

    Attributes:
        frozen, fine_tune: ``History.history`` dicts of the two phases.
        switch_epoch: number of epochs of the frozen phase (where the base
            was unfrozen).
    """

    def __init__(self, frozen: dict, fine_tune: dict):
        self.frozen, self.fine_tune = frozen, fine_tune
        self.switch_epoch = len(next(iter(frozen.values()), []))

    @property
    def history(self) -> dict:
        """Both phases end to end, like one ``History.history`` (for plotting)."""
        keys = [k for k in self.frozen if k in self.fine_tune]
        return {k: list(self.frozen[k]) + list(self.fine_tune[k]) for k in keys}


def fit_two_phase(model, base, train, valid=None, head_epochs: int = 3,
                  fine_tune_epochs: int = 10, head_lr: float = 0.1, fine_tune_lr: float = 0.01,
                  unfreeze_from: int = 0, optimizer: str = "sgd", jit_compile=False,
                  verbose="auto", **fit_kwargs) -> TwoPhaseHistory:
    """Transfer learning in two phases: train the head, then fine-tune.

    1. Freeze ``base``, compile with ``head_lr`` and train ``head_epochs``:
       the new, randomly initialised head learns without its large gradients
       wrecking the pretrained filters.
    2. Unfreeze ``base`` from layer ``unfreeze_from`` on, recompile (needed for
       the change to take effect) with the much smaller ``fine_tune_lr``, and
       train ``fine_tune_epochs`` more, so the pretrained filters adapt gently.

    Args:
        model: from :func:`build_transfer_model`.
        base: the base inside ``model``.
        train, valid: datasets (or arrays as ``train=(x, y)``, ``valid=(x, y)``).
        fit_kwargs: passed to ``model.fit`` (e.g. ``batch_size``, ``callbacks``).

    Returns:
        A :class:`TwoPhaseHistory`.
    """
    if fine_tune_lr >= head_lr:
        raise ValueError(
            f"fine_tune_lr={fine_tune_lr} should be much smaller than head_lr={head_lr} "
            f"(e.g. 10x smaller), or fine-tuning wrecks the pretrained weights."
        )
    if isinstance(train, tuple):
        fit_kwargs = dict(fit_kwargs, x=train[0], y=train[1])
    else:  # a tf.data.Dataset shuffles itself (Keras warns if asked to shuffle it)
        fit_kwargs = dict({"shuffle": False}, **fit_kwargs, x=train)
    fit_kwargs.update(validation_data=valid, verbose=verbose)
    freeze(base)
    compile_classifier(model, head_lr, optimizer, jit_compile)
    frozen = model.fit(epochs=head_epochs, **fit_kwargs).history
    unfreeze(base, unfreeze_from)
    compile_classifier(model, fine_tune_lr, optimizer, jit_compile)
    fine_tune = model.fit(epochs=fine_tune_epochs, **fit_kwargs).history
    return TwoPhaseHistory(frozen, fine_tune)


def digits_features(name: str = "digits_features"):
    """A small convolutional feature extractor for 28x28 grey digits.

    (N, 28, 28, 1) uint8-range pixels -> (N, 3, 3, 128) features: rescale,
    then three conv/pool stages (32, 64 and 128 filters).
    No BatchNormalization, so it trains the same whether called with
    ``training`` True or False.
    """
    import keras

    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(128, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
    ], name=name)


@dataclasses.dataclass
class TransferComparison:
    """Result of :func:`digits_transfer_experiment`.

    Attributes:
        source_accuracy: accuracy of the pretrained net on held-out digits 0-4.
        transfer_accuracy: test accuracy on digits 5-9, pretrained features.
        scratch_accuracy: test accuracy on digits 5-9, same net from scratch.
        transfer_history: :class:`TwoPhaseHistory` of the transfer run.
        scratch_history: ``History.history`` of the scratch run.
        shots_per_class: labelled training images per target class.
        num_test: number of test images (digits 5-9).
    """

    source_accuracy: float
    transfer_accuracy: float
    scratch_accuracy: float
    transfer_history: TwoPhaseHistory
    scratch_history: dict
    shots_per_class: int
    num_test: int

    @property
    def gain(self) -> float:
        """Transfer minus scratch accuracy."""
        return self.transfer_accuracy - self.scratch_accuracy


def digits_transfer_experiment(shots_per_class: int = 10, seed: int = 0,
                               pretrain_epochs: int = 10, head_epochs: int = 3,
                               fine_tune_epochs: int = 3, steps_per_epoch: int = 10,
                               verbose: int = 0) -> TransferComparison:
    """Does reusing features learned on digits 0-4 help on digits 5-9?

    Real data, offline, in seconds: scikit-learn's digits (see
    ``homl_cv.data.load_digits_28x28``).

    1. Pretrain :func:`digits_features` plus a head on all training digits
       0-4 (about 650 images).
    2. Transfer: a new head on those features, trained on only
       ``shots_per_class`` images of each digit 5-9 with :func:`fit_two_phase`
       (frozen, then fine-tuned at a 10x smaller learning rate).
    3. Scratch: the same architecture, randomly initialised, trained on the
       same few images for the same total number of epochs.

    Both are evaluated on the digits 5-9 of the validation and test splits
    (never seen in training).
    """
    from homl_cv.data import _quiet_tf_logs

    with _quiet_tf_logs():  # silence "retracing" notes: several small models in a row
        return _digits_transfer_run(shots_per_class, seed, pretrain_epochs, head_epochs,
                                    fine_tune_epochs, steps_per_epoch, verbose)


def _digits_transfer_run(shots_per_class, seed, pretrain_epochs, head_epochs, fine_tune_epochs,
                         steps_per_epoch, verbose) -> TransferComparison:
    import keras
    import tensorflow as tf

    from homl_cv import config
    from homl_cv.data import load_digits_28x28

    if shots_per_class < 1:
        raise ValueError(f"shots_per_class={shots_per_class} must be at least 1.")
    digits = load_digits_28x28()
    x_train, y_train = digits.x_train[..., None], digits.y_train
    x_eval = np.concatenate([digits.x_valid, digits.x_test])[..., None]
    y_eval = np.concatenate([digits.y_valid, digits.y_test])
    source = y_train < 5
    rng = np.random.default_rng(seed)
    few = np.concatenate([
        rng.choice(np.flatnonzero(y_train == d), shots_per_class, replace=False)
        for d in range(5, 10)
    ])
    if len(few) != 5 * shots_per_class:
        raise ValueError(f"shots_per_class={shots_per_class} is more than the data has.")
    x_few, y_few = x_train[few], y_train[few] - 5
    target_eval = y_eval >= 5
    x_test, y_test = x_eval[target_eval], y_eval[target_eval] - 5

    config.set_seeds(seed)
    features = digits_features()
    source_model = build_transfer_model(features, 5, name="source_0_to_4")
    compile_classifier(source_model, 1e-3, "adam")
    source_model.fit(x_train[source], y_train[source], epochs=pretrain_epochs,
                     batch_size=32, verbose=verbose)
    source_accuracy = source_model.evaluate(x_eval[~target_eval], y_eval[~target_eval],
                                            verbose=0)[1]

    # The few images are repeated and reshuffled, so each "epoch" is
    # ``steps_per_epoch`` batches: the same training budget for both nets.
    few_shot = (tf.data.Dataset.from_tensor_slices((x_few, y_few)).repeat()
                .shuffle(len(y_few), seed=seed).batch(16))
    budget = dict(steps_per_epoch=steps_per_epoch, verbose=verbose)

    config.set_seeds(seed + 1)
    transfer_model = build_transfer_model(features, 5, name="transfer_5_to_9")
    transfer_history = fit_two_phase(
        transfer_model, features, few_shot, (x_test, y_test), head_epochs=head_epochs,
        fine_tune_epochs=fine_tune_epochs, head_lr=1e-2, fine_tune_lr=1e-3, optimizer="adam",
        **budget,
    )
    transfer_accuracy = transfer_model.evaluate(x_test, y_test, verbose=0)[1]

    config.set_seeds(seed + 1)
    scratch_model = build_transfer_model(digits_features("scratch_features"), 5, name="scratch")
    compile_classifier(scratch_model, 1e-3, "adam")
    scratch_history = scratch_model.fit(
        few_shot, validation_data=(x_test, y_test), epochs=head_epochs + fine_tune_epochs,
        shuffle=False, **budget,
    ).history
    scratch_accuracy = scratch_model.evaluate(x_test, y_test, verbose=0)[1]
    keras.backend.clear_session(free_memory=True)
    return TransferComparison(float(source_accuracy), float(transfer_accuracy),
                              float(scratch_accuracy), transfer_history, scratch_history,
                              shots_per_class, int(len(y_test)))


# ============================================================ 04-06 localization, detection, segmentation
def cosine_schedule(learning_rate: float, epochs: int, num_examples: int, batch_size: int,
                    alpha: float = 0.0):
    """A ``CosineDecay`` from ``learning_rate`` to ``alpha * learning_rate`` over all steps.

    The steps are ``epochs * ceil(num_examples / batch_size)``: one per batch
    that ``fit`` will run.
    """
    import keras

    steps = epochs * -(-num_examples // batch_size)
    return keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps, alpha=alpha)


# ------------------------------------------------------------ 04
@dataclasses.dataclass
class LocalizationResult:
    """What :func:`train_localizer` returns.

    Attributes:
        model: the trained two-headed Keras model.
        history: ``History.history`` dict (loss, class_accuracy, box_box_iou, ...).
        test: the held-out :class:`homl_cv.data.ShapesData` (never trained on).
        pred_classes: int (N_test,) predicted class ids.
        pred_boxes: float32 (N_test, 4) predicted "xyxy" pixel boxes.
        true_boxes: float32 (N_test, 4) true "xyxy" pixel boxes.
        ious: float32 (N_test,) IoU of each predicted box with its true box.
        accuracy: class accuracy on the test set.
        mean_iou: mean of ``ious``.
        train_seconds: wall-clock time of ``fit``.
    """

    model: object
    history: dict
    test: object
    pred_classes: np.ndarray
    pred_boxes: np.ndarray
    true_boxes: np.ndarray
    ious: np.ndarray
    accuracy: float
    mean_iou: float
    train_seconds: float

    def summary(self) -> str:
        return (f"test images: {len(self.test)}, class accuracy: {self.accuracy:.1%}, "
                f"mean IoU: {self.mean_iou:.2f}, IoU >= 0.5: {np.mean(self.ious >= 0.5):.0%}")


def localization_targets(shapes) -> tuple:
    """Inputs and targets for a localization model from single-object shapes.

    Args:
        shapes: a :class:`homl_cv.data.ShapesData` with exactly one object per image.

    Returns:
        ``(images, {"class": int32 (N,), "box": float32 (N, 4)})``, boxes encoded
        by :func:`homl_cv.models.encode_boxes`.
    """
    from homl_cv import models

    counts = shapes.num_objects()
    if not np.all(counts == 1):
        raise ValueError(
            f"shapes must have exactly one object per image (got counts {sorted(set(counts.tolist()))}): "
            f"generate them with make_shapes(..., min_objects=1, max_objects=1)."
        )
    size = shapes.images.shape[1:3]
    targets = {"class": shapes.classes[:, 0].astype(np.int32),
               "box": models.encode_boxes(shapes.boxes[:, 0], image_size=size)}
    return shapes.images, targets


def train_localizer(num_images=None, image_size=64, epochs=None, batch_size=32, seed=42,
                    learning_rate=2e-3, loss_weights=None, verbose="auto") -> LocalizationResult:
    """Generate single-object shapes, train a two-headed localizer, evaluate it.

    The images come from :func:`homl_cv.data.make_shapes` (one object each,
    exact boxes), split 80/10/10 % into train/valid/test; the model is
    :func:`homl_cv.models.localization_model`. The learning rate decays with a
    cosine schedule to 0 over the epochs.

    Args:
        num_images: total images; default 4,000 in quick mode, 20,000 otherwise.
        image_size: side of the square images.
        epochs: default 12 in quick mode, 40 otherwise.
        batch_size, learning_rate: for Adam.
        seed: seeds the data and the weights.
        loss_weights: see :func:`homl_cv.models.compile_localization_model`.
        verbose: passed to ``fit`` (Keras progress bars).

    Returns:
        A :class:`LocalizationResult` measured on the test images.
    """
    import time

    from homl_cv import boxes, config, data, models

    num_images = num_images or config.pick(quick=4000, full=20000)
    epochs = epochs or config.pick(quick=12, full=40)
    if num_images < 50:
        raise ValueError(f"num_images={num_images} is too few to split 80/10/10: use 50 or more.")
    config.set_seeds(seed)
    shapes = data.make_shapes(num_images, image_size=image_size, seed=seed)
    train, valid, test = shapes.split((0.8, 0.1, 0.1))
    x_train, y_train = localization_targets(train)
    x_valid, y_valid = localization_targets(valid)
    model = models.localization_model(x_train.shape[1:], num_classes=len(shapes.class_names))
    schedule = cosine_schedule(learning_rate, epochs, len(x_train), batch_size)
    models.compile_localization_model(model, learning_rate=schedule, loss_weights=loss_weights)
    start = time.perf_counter()
    history = model.fit(x_train, y_train, validation_data=(x_valid, y_valid), epochs=epochs,
                        batch_size=batch_size, verbose=verbose)
    seconds = time.perf_counter() - start
    pred = model.predict(test.images, batch_size=256, verbose=0)
    pred_boxes = models.decode_boxes(pred["box"], image_size=test.images.shape[1:3])
    true_boxes = test.boxes[:, 0]
    ious = boxes.paired_iou(pred_boxes, true_boxes)
    pred_classes = pred["class"].argmax(axis=1)
    return LocalizationResult(
        model=model, history=history.history, test=test, pred_classes=pred_classes,
        pred_boxes=pred_boxes, true_boxes=true_boxes, ious=ious,
        accuracy=float(np.mean(pred_classes == test.classes[:, 0])),
        mean_iou=float(ious.mean()), train_seconds=seconds,
    )


# ---------------------------------------------------------------- 05 detection
def yolo_recipe() -> dict:
    """Data and training sizes for chapter 05's tiny YOLO (quick vs full mode)."""
    from homl_cv import config

    return dict(image_size=64, max_objects=3, num_anchors=3, filters=16,
                num_train=config.pick(1500, 8000), num_test=config.pick(200, 1000),
                epochs=config.pick(12, 40), batch_size=16, learning_rate=3e-3)


def train_yolo_detector(train_data, anchors, epochs: int = 12, batch_size: int = 32,
                        learning_rate: float = 3e-3, filters: int = 8, seed: int = 42, verbose="auto"):
    """Train :func:`homl_cv.detection.make_yolo_detector` on a ShapesData.

    Targets come from :func:`homl_cv.detection.yolo_targets` on an 8x8-pixel
    grid; Adam with a cosine-decayed learning rate and the
    :class:`homl_cv.detection.YoloLoss`. Random horizontal flips of image and
    targets would be the next step for more data; here the generator gives
    fresh images instead.

    Returns:
        ``(model, history)``.
    """
    import keras

    from homl_cv import config, detection

    config.set_seeds(seed)
    image_size = train_data.images.shape[1]
    model = detection.make_yolo_detector(image_size, len(anchors), len(train_data.class_names), filters)
    targets = detection.yolo_targets(train_data, image_size // 8, anchors)
    schedule = cosine_schedule(learning_rate, epochs, len(train_data), batch_size, alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=schedule), loss=detection.YoloLoss())
    history = model.fit(train_data.images, targets, epochs=epochs, batch_size=batch_size, verbose=verbose)
    return model, history


def train_window_classifier(crops, labels, num_outputs: int, epochs: int = 4, batch_size: int = 64,
                            seed: int = 42, verbose="auto"):
    """Train :func:`homl_cv.detection.make_window_classifier` on labelled crops.

    Returns:
        ``(model, history)``; the model's outputs are softmax probabilities.
    """
    from homl_cv import config, detection

    config.set_seeds(seed)
    model = detection.make_window_classifier(crops.shape[1], num_outputs)
    compile_classifier(model, 2e-3, "adam", jit_compile="auto")  # Keras' default
    history = model.fit(crops, labels, epochs=epochs, batch_size=batch_size, verbose=verbose)
    return model, history


# ---------------------------------------------------------------- 06 segmentation
def fit_segmentation(model, train, valid=None, num_classes=None, epochs: int = 5, batch_size: int = 16,
                     learning_rate: float = 1e-2, loss=None, seed: int = 42, verbose="auto"):
    """Compile and train a per-pixel classifier (FCN, U-Net) on (image, mask) pairs.

    The loss is per-pixel sparse cross-entropy on logits (the mean over all
    pixels) unless ``loss`` says otherwise; the metrics are pixel accuracy and
    ``keras.metrics.MeanIoU`` on the arg-max of the logits. Adam with a cosine
    decay of the learning rate over all steps.

    Args:
        model: outputs (batch, H, W, num_classes) logits.
        train, valid: unbatched ``tf.data`` datasets of (image, mask) pairs,
            e.g. from :func:`homl_cv.segmentation.load_segmentation_data`.
        num_classes: default: the model's last output dimension.
        epochs, batch_size, learning_rate: the usual.
        loss: a Keras loss (e.g. ``DiceLoss(from_logits=True)``) to use instead.

    Returns:
        The Keras ``History``.
    """
    import keras
    import tensorflow as tf

    num_classes = num_classes or model.output_shape[-1]
    size = int(train.cardinality())
    if size <= 0:
        raise ValueError("train must be a finite, non-empty dataset of (image, mask) pairs.")
    model.compile(
        optimizer=keras.optimizers.Adam(cosine_schedule(learning_rate, epochs, size, batch_size)),
        loss=loss or keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy", keras.metrics.MeanIoU(num_classes, sparse_y_pred=False, name="mean_iou")],
    )
    train = train.shuffle(size, seed=seed).batch(batch_size).prefetch(tf.data.AUTOTUNE)
    if valid is not None:
        valid = valid.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    return model.fit(train, validation_data=valid, epochs=epochs, shuffle=False, verbose=verbose)
