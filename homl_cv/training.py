"""Generic training: fitting classifiers, transfer learning, learning-rate schedules.

* **Classifiers (02).** :func:`scale_images`, :func:`fit_classifier`,
  :func:`predict_classes`, :func:`classifier_accuracy`, :func:`compile_classifier`.
* **Transfer learning (03).** :func:`build_transfer_model`, :func:`freeze`,
  :func:`unfreeze`, :func:`fit_two_phase` (a :class:`TwoPhaseHistory`) and
  the digits experiment: :func:`pretrain_digits_base`,
  :func:`digits_transfer_experiment` (a :class:`TransferComparison`) and
  :func:`transfer_vs_scratch` over several seeds (a :class:`TransferStudy`).
* **Shared by the topic trainers.** :func:`cosine_schedule` and
  :class:`TrainedModel`, what ``detection.train_yolo_detector``,
  ``detection.train_window_classifier`` and ``segmentation.train_segmentation``
  return. Each topic module owns its trainer (``localization``, ``detection``,
  ``segmentation``, ``style``).

Example:
    >>> from homl_cv import training  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from homl_cv import checks, config, data, distribute, pretrained, sources

__all__ = [
    "PretrainedDigits",
    "SOURCE_DIGITS",
    "TARGET_DIGITS",
    "TrainedModel",
    "TransferComparison",
    "TransferStudy",
    "TwoPhaseHistory",
    "build_transfer_model",
    "classifier_accuracy",
    "compile_classifier",
    "cosine_schedule",
    "digits_features",
    "digits_transfer_experiment",
    "fit_classifier",
    "fit_two_phase",
    "freeze",
    "predict_classes",
    "pretrain_digits_base",
    "scale_images",
    "transfer_vs_scratch",
    "unfreeze",
]


# ============================================================ 02 architectures (classifiers)
def scale_images(images) -> np.ndarray:
    """uint8 images (N, H, W) or (N, H, W, C) in 0-255 -> float32 (N, H, W, C) in [0, 1]."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    checks.shaped(images, "images", ("N", "H", "W", "C"), "or (N, H, W) for grayscale")
    return images.astype(np.float32) / 255.0


def fit_classifier(model, splits, epochs: int, batch_size: int = 32, learning_rate: float = 1e-3,
                   verbose="auto", callbacks=None):
    """Compile ``model`` for integer labels and train it on ``splits``.

    Scales the images with :func:`scale_images`, compiles with
    ``Adam(learning_rate=learning_rate)``, sparse categorical cross-entropy
    and accuracy, and fits on ``splits.x_train`` with ``splits.x_valid`` as
    validation data (Keras prints a progress bar per epoch).

    Args:
        model: a Keras classifier with a softmax output, e.g. ``models.build_lenet5()``.
        splits: a :class:`homl_cv.data.ImageSplits` (e.g. ``data.load_mnist()``).
        epochs: number of passes over the training set.
        batch_size: images per replica; the global batch ``fit`` sees is
            ``batch_size * replicas`` of the strategy the model was built under
            (``with strategy.scope(): model = ...``; 1 replica without one).
        learning_rate: a float, or a ``keras.optimizers.schedules`` schedule.
            It is not scaled with the replicas: for a larger global batch, scale
            it yourself (``distribute.scale_learning_rate``, linear rule).

    Returns:
        The Keras ``History`` (``history.history["val_accuracy"]`` etc.).
    """
    checks.positive_int(epochs, "epochs")
    compile_classifier(model, learning_rate, "adam", jit_compile="auto")  # Keras' default
    return model.fit(
        scale_images(splits.x_train), splits.y_train,
        validation_data=(scale_images(splits.x_valid), splits.y_valid),
        epochs=epochs, batch_size=distribute.global_batch_size(batch_size, distribute.strategy_of(model)),
        verbose=verbose, callbacks=callbacks,
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
    ``training=False``, as the Keras guide does; in Keras 3, though, ``fit``'s
    ``training=True`` overrides it (keras-team/keras#20285), so what keeps
    the base's BatchNormalization layers in inference mode (with their
    ImageNet statistics) is that they stay frozen: :func:`freeze`, and
    :func:`unfreeze`, which leaves them frozen. The output layer is float32
    so the softmax stays accurate under mixed precision.

    Args:
        base: a Keras model mapping images to a feature map (N, h, w, c), or
            the :class:`homl_cv.pretrained.PretrainedBase` that
            ``homl_cv.pretrained.build_base(...)`` returns (its ``.model`` is used).
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

    if isinstance(base, pretrained.PretrainedBase):
        base = base.model
    if not isinstance(base, keras.Model):
        raise ValueError(f"base={type(base).__name__} must be a Keras model or what pretrained.build_base "
                         f"returns (e.g. base=pretrained.build_base('MobileNetV2')).")
    checks.int_at_least(num_classes, "num_classes", 2, "a classifier needs two classes or more")
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
    checks.int_in(from_layer, "from_layer", 0, len(base.layers) - 1, f"the base has {len(base.layers)} layers")
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
    ``jit_compile=True`` compiles with XLA (see ``config.setup_device``; off
    under a strategy with several replicas, see ``distribute.jit_compile_for``).
    The optimizer and metrics are created under the scope of the strategy the
    model was built under.
    """
    import keras

    checks.one_of(optimizer, "optimizer", ("sgd", "adam"))
    strategy = distribute.strategy_of(model)
    with strategy.scope():
        if optimizer == "sgd":
            opt = keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9)
        else:
            opt = keras.optimizers.Adam(learning_rate=learning_rate)
        model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                      jit_compile=distribute.jit_compile_for(strategy, jit_compile))


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


SOURCE_DIGITS = (0, 1, 2, 3, 4)
"""The digits of the large source task (pretraining)."""
TARGET_DIGITS = (5, 6, 7, 8, 9)
"""The digits of the new task that has only a few labels."""


@dataclasses.dataclass
class PretrainedDigits:
    """What :func:`pretrain_digits_base` returns: a base trained on the source task.

    Attributes:
        features: the :func:`digits_features` base, (N, 28, 28, 1) -> (N, 3, 3, 128).
        source_accuracy: accuracy of base + head on held-out digits 0-4 (jittered).
        num_source_images: labelled images it was trained on (with the jittered copies).
    """

    features: object
    source_accuracy: float
    num_source_images: int


@dataclasses.dataclass
class TransferComparison:
    """One seed of the transfer-vs-scratch experiment (:func:`digits_transfer_experiment`).

    Attributes:
        seed: picks the few labelled images and initialises the new weights.
        source_accuracy: accuracy of the pretrained net on held-out source digits.
        frozen_accuracy: test accuracy after the frozen phase (new head only).
        transfer_accuracy: test accuracy after fine-tuning (pretrained base).
        scratch_accuracy: test accuracy of the same net trained from scratch
            on the same images for the same number of steps.
        transfer_history: :class:`TwoPhaseHistory` of the transfer run
            (``val_accuracy`` is the test accuracy after each epoch).
        scratch_history: ``History.history`` of the scratch run.
        shots_per_class: labelled training images per target class.
        num_test: number of test images of the target task.
        source_task, target_task: what they are, for titles.
    """

    seed: int
    source_accuracy: float
    frozen_accuracy: float
    transfer_accuracy: float
    scratch_accuracy: float
    transfer_history: TwoPhaseHistory
    scratch_history: dict
    shots_per_class: int
    num_test: int
    source_task: str = "digits 0-4"
    target_task: str = "digits 5-9"

    @property
    def gain(self) -> float:
        """Transfer minus scratch accuracy."""
        return self.transfer_accuracy - self.scratch_accuracy


@dataclasses.dataclass
class TransferStudy:
    """Several seeds of the experiment; what :func:`transfer_vs_scratch` returns.

    Attributes:
        runs: one :class:`TransferComparison` per seed.
        base: the :class:`PretrainedDigits` every run started from.
    """

    runs: list
    base: PretrainedDigits

    def _values(self, field: str) -> np.ndarray:
        return np.array([getattr(run, field) for run in self.runs])

    @property
    def transfer(self) -> np.ndarray:
        """Transfer test accuracies, one per seed."""
        return self._values("transfer_accuracy")

    @property
    def scratch(self) -> np.ndarray:
        """Scratch test accuracies, one per seed."""
        return self._values("scratch_accuracy")

    @property
    def gains(self) -> np.ndarray:
        """Transfer minus scratch, one per seed."""
        return self.transfer - self.scratch

    def table(self) -> str:
        """One line per seed and a mean ± std line (accuracies in %)."""
        lines = ["seed  frozen head  transfer  scratch   gain (points)"]
        for run in self.runs:
            lines.append(f"{run.seed:>4}  {run.frozen_accuracy:>10.1%}  {run.transfer_accuracy:>8.1%}  "
                         f"{run.scratch_accuracy:>7.1%}  {100 * run.gain:>+6.1f}")
        frozen = self._values("frozen_accuracy")
        lines.append(f"mean  {frozen.mean():>10.1%}  {self.transfer.mean():>8.1%}  "
                     f"{self.scratch.mean():>7.1%}  {100 * self.gains.mean():>+6.1f}")
        lines.append(f" std  {frozen.std():>10.1%}  {self.transfer.std():>8.1%}  "
                     f"{self.scratch.std():>7.1%}  {100 * self.gains.std():>6.1f}")
        return "\n".join(lines)


@functools.lru_cache(maxsize=1)
def _digit_splits():
    """Jittered digits: source train/test (0-4) and target pool/test (5-9), fixed seeds.

    Cached (the same arrays for every run): callers must not modify them.
    """
    digits = data.load_digits_28x28()
    x_eval = np.concatenate([digits.x_valid, digits.x_test])
    y_eval = np.concatenate([digits.y_valid, digits.y_test])
    source, target = np.isin(digits.y_train, SOURCE_DIGITS), np.isin(y_eval, TARGET_DIGITS)
    return dict(
        x_source=digits.x_train[source], y_source=digits.y_train[source],
        x_source_test=data.jitter_images(x_eval[~target], seed=6)[..., None], y_source_test=y_eval[~target],
        x_pool=digits.x_train[~source], y_pool=digits.y_train[~source] - TARGET_DIGITS[0],
        x_test=data.jitter_images(x_eval[target], seed=5)[..., None], y_test=y_eval[target] - TARGET_DIGITS[0],
    )


def pretrain_digits_base(copies: int = 3, epochs: int = 8, seed: int = 0,
                         verbose: int = 0, strategy=None) -> PretrainedDigits:
    """Train :func:`digits_features` plus a head on the large source task, digits 0-4.

    The source task: the 663 training digits 0-4 of
    :func:`homl_cv.data.load_digits_28x28`, each in ``copies`` random placements
    (:func:`homl_cv.data.jitter_images`: off-centre, smaller, tilted), Adam at
    1e-3, batch 32 per replica. The accuracy is measured on held-out jittered
    digits 0-4. The model is built and compiled under ``strategy`` (default:
    the one ``config.pick_strategy`` picks).

    Example:
        >>> base = pretrain_digits_base(copies=1, epochs=1)  # doctest: +SKIP
        >>> base.features.output_shape
        (None, 3, 3, 128)
    """
    checks.positive_int(copies, "copies")
    checks.positive_int(epochs, "epochs")
    splits = _digit_splits()
    x = np.concatenate([data.jitter_images(splits["x_source"], seed=100 * k + 7) for k in range(copies)])
    y = np.tile(splits["y_source"], copies)
    strategy = distribute.get_strategy(strategy)
    config.set_seeds(seed)
    with strategy.scope():
        features = digits_features()
        model = build_transfer_model(features, len(SOURCE_DIGITS), name="source_0_to_4")
    compile_classifier(model, 1e-3, "adam")
    with sources.quiet_tf_logs():
        model.fit(x[..., None], y, epochs=epochs, batch_size=distribute.global_batch_size(32, strategy),
                  verbose=verbose)
        accuracy = model.evaluate(splits["x_source_test"], splits["y_source_test"], verbose=0)[1]
    return PretrainedDigits(features, float(accuracy), len(y))


def digits_transfer_experiment(base: PretrainedDigits | None = None, shots_per_class: int = 3,
                               seed: int = 0, head_epochs: int = 3, fine_tune_epochs: int = 3,
                               steps_per_epoch: int = 10, verbose: int = 0,
                               strategy=None) -> TransferComparison:
    """Does reusing features learned on digits 0-4 help on digits 5-9 with few labels?

    Real digits, offline, in seconds (see :func:`pretrain_digits_base`):

    1. Draw ``shots_per_class`` training images of each digit 5-9 (``seed``
       decides which) and jitter them like the source digits.
    2. Transfer: a copy of the pretrained base with a new head, trained by
       :func:`fit_two_phase` (frozen at learning rate 1e-2, then fine-tuned at
       1e-3, Adam).
    3. Scratch: the same architecture, randomly initialised, trained on the
       same images for the same number of steps (Adam, 1e-3).

    Both are evaluated on 262 jittered digits 5-9 never used in training.
    Each "epoch" is ``steps_per_epoch`` batches of 16 per replica drawn from
    the few images (repeated and reshuffled).

    Args:
        base: from :func:`pretrain_digits_base` (trained here if None); it is
            copied, never changed.
        strategy: the ``tf.distribute`` strategy the models are built and
            compiled under (default: the one ``config.pick_strategy`` picks).
    """
    import keras
    import tensorflow as tf

    checks.positive_int(shots_per_class, "shots_per_class")
    strategy = distribute.get_strategy(strategy)
    splits = _digit_splits()
    pool, rng = splits["y_pool"], np.random.default_rng(seed)
    checks.int_in(shots_per_class, "shots_per_class", 1, int(np.bincount(pool).min()), "the rarest digit's images")
    base = base or pretrain_digits_base(seed=seed, strategy=strategy)
    few = np.concatenate([rng.choice(np.flatnonzero(pool == d), shots_per_class, replace=False)
                          for d in range(len(TARGET_DIGITS))])
    x_few = data.jitter_images(splits["x_pool"][few], seed=1000 + seed)[..., None]
    y_few = pool[few]
    x_test, y_test = splits["x_test"], splits["y_test"]
    # the few images, repeated and reshuffled: each "epoch" is steps_per_epoch batches
    few_shot = (tf.data.Dataset.from_tensor_slices((x_few, y_few)).repeat()
                .shuffle(len(y_few), seed=seed).batch(distribute.global_batch_size(16, strategy)))
    budget = dict(steps_per_epoch=steps_per_epoch, verbose=verbose)

    with sources.quiet_tf_logs():  # silence "retracing" notes: several small models in a row
        # transfer: a copy of the pretrained base, a new head; frozen, then fine-tuned
        config.set_seeds(seed + 1)
        with strategy.scope():
            features = keras.models.clone_model(base.features)
            features.set_weights(base.features.get_weights())
            transfer_model = build_transfer_model(features, len(TARGET_DIGITS), name="transfer_5_to_9")
        transfer_history = fit_two_phase(
            transfer_model, features, few_shot, (x_test, y_test), head_epochs=head_epochs,
            fine_tune_epochs=fine_tune_epochs, head_lr=1e-2, fine_tune_lr=1e-3,
            optimizer="adam", **budget,
        )
        transfer_accuracy = transfer_model.evaluate(x_test, y_test, verbose=0)[1]

        # scratch: same architecture, random weights, same images and steps
        config.set_seeds(seed + 1)
        with strategy.scope():
            scratch_model = build_transfer_model(digits_features("scratch_features"),
                                                 len(TARGET_DIGITS), name="scratch")
        compile_classifier(scratch_model, 1e-3, "adam")
        scratch_history = scratch_model.fit(
            few_shot, validation_data=(x_test, y_test), epochs=head_epochs + fine_tune_epochs,
            shuffle=False, **budget,
        ).history
        scratch_accuracy = scratch_model.evaluate(x_test, y_test, verbose=0)[1]
    return TransferComparison(
        seed, base.source_accuracy, float(transfer_history.frozen["val_accuracy"][-1]),
        float(transfer_accuracy), float(scratch_accuracy), transfer_history, scratch_history,
        shots_per_class, int(len(y_test)),
    )


def transfer_vs_scratch(seeds=(0, 1, 2), shots_per_class: int = 3, base=None,
                        **kwargs) -> TransferStudy:
    """:func:`digits_transfer_experiment` for several seeds, from one pretrained base.

    The base is pretrained once (as an ImageNet base is); each seed draws
    other labelled images and other initial weights for the head and the
    scratch net, so the spread over seeds is the spread of the few-label task.

    Args:
        seeds: at least 2, so that a spread can be measured.
        base: a :class:`PretrainedDigits` (trained here with seed 0 if None).
        kwargs: passed to :func:`digits_transfer_experiment`.

    Example:
        >>> study = transfer_vs_scratch(seeds=(0, 1, 2))  # doctest: +SKIP
        >>> print(study.table())  # doctest: +SKIP
    """
    seeds = checks.unique(tuple(seeds), "seeds", "different seeds measure a spread")
    checks.int_at_least(len(seeds), "len(seeds)", 2, "two seeds or more measure a spread")
    base = base or pretrain_digits_base()
    runs = [digits_transfer_experiment(base, shots_per_class, seed, **kwargs) for seed in seeds]
    return TransferStudy(runs, base)


# ============================================================ shared by the trainers (04-06)
@dataclasses.dataclass
class TrainedModel:
    """A model trained by a ``train_*`` function, with its learning curves.

    Attributes:
        model: the trained Keras model.
        history: ``History.history``: one list per loss or metric ("loss",
            "val_loss", ...), one value per epoch. ``viz.plot_learning_curves``
            takes the whole object.
    """

    model: object
    history: dict


def cosine_schedule(learning_rate: float, epochs: int, num_examples: int, batch_size: int,
                    alpha: float = 0.0):
    """A ``CosineDecay`` from ``learning_rate`` to ``alpha * learning_rate`` over all steps.

    The steps are ``epochs * ceil(num_examples / batch_size)``: one per batch
    that ``fit`` will run.
    """
    import keras

    steps = epochs * -(-num_examples // batch_size)
    return keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps, alpha=alpha)
