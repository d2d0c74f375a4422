"""Images and text: a CLIP-style model trained from scratch on captioned shapes.

CLIP (Radford et al., 2021) trains an image encoder and a text encoder together
so that an image and its caption land close together on a shared unit sphere,
and unrelated pairs far apart. Once trained, it classifies an image *zero-shot*:
write one prompt per class ("a photo of a circle", ...), embed the prompts, and
pick the prompt nearest to the image. No classifier was trained for the task.

This module is the chapter's working code, small enough to train on a CPU:

- **data**: scenes from :func:`homl_cv.data.make_shapes`, described by
  captions built from templates (:func:`caption_objects`): shape, colour, size
  (small/large), position (top/bottom left/right) and count ("two crosses").
  Colour x shape combinations in :data:`HELD_OUT` can be kept out of training
  (:func:`split_held_out`) to measure compositional generalization;
- **model**: a small CNN (:func:`build_image_encoder`) and a Transformer text
  encoder over a fixed vocabulary (:func:`build_text_vectorizer`,
  :func:`build_text_encoder`), joined by :class:`ClipModel`, which holds the
  learned temperature and trains with the symmetric InfoNCE loss
  (:func:`clip_loss`) in a custom ``train_step``;
- **evaluation**: :func:`zero_shot_predict`, :func:`recall_at_k` and
  :func:`evaluate_clip`.

Example:
    >>> import numpy as np
    >>> float(clip_loss(np.array([[10.0, 0.0], [0.0, 10.0]])))  # doctest: +ELLIPSIS
    4.5...e-05
"""

from __future__ import annotations

import dataclasses
import time

import keras
import numpy as np
import tensorflow as tf

from homl_cv import checks, data

__all__ = [
    "SIZE_NAMES", "POSITION_NAMES", "HELD_OUT", "PLURALS", "SEQUENCE_LENGTH",
    "CaptionedScenes", "object_size", "object_position", "caption_objects", "make_scenes",
    "split_held_out", "caption_vocabulary", "build_text_vectorizer", "build_image_encoder",
    "build_text_encoder", "clip_loss", "ClipModel", "build_clip", "encode_images",
    "encode_texts", "similarity_matrix", "zero_shot_predict", "recall_at_k",
    "ClipTraining", "train_clip", "ClipEvaluation", "evaluate_clip",
    "SHAPE_PROMPT", "COLOUR_PROMPT", "PAIR_PROMPT", "pair_prompts",
]

SIZE_NAMES = ("small", "large")
"""Size words: ``small`` below the middle of the generator's size range."""
POSITION_NAMES = ("top left", "top right", "bottom left", "bottom right")
"""Position words, from the quadrant of the object's box centre."""
PLURALS = {"circle": "circles", "square": "squares", "triangle": "triangles", "cross": "crosses"}
"""Plural of each shape name, for count captions ("two crosses")."""
HELD_OUT = (("red", "triangle"), ("blue", "circle"), ("green", "cross"), ("yellow", "square"))
"""Colour x shape pairs kept out of training (each colour and shape is still seen)."""
SEQUENCE_LENGTH = 12
"""Tokens per caption after :func:`build_text_vectorizer` (the longest caption has 10 words)."""


def _invalid(argument: str, value, must: str):
    """Raise the package's ValueError: ``argument=value must ...`` (see :mod:`homl_cv.checks`)."""
    raise ValueError(f"{argument}={value!r} {must}")


# ----------------------------------------------------------------------------- captions
def object_size(box, image_size: int, size_range=(0.3, 0.6)) -> str:
    """``"small"`` or ``"large"``: the box's longer side against the middle of ``size_range``.

    Args:
        box: (4,) xyxy in pixels.
        image_size: side of the image in pixels.
        size_range: the ``size_range`` the scenes were generated with.

    Example:
        >>> object_size([0, 0, 8, 8], 32), object_size([0, 0, 20, 18], 32)
        ('small', 'large')
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    middle = (size_range[0] + size_range[1]) / 2 * image_size
    return SIZE_NAMES[int(max(x1 - x0, y1 - y0) >= middle)]


def object_position(box, image_size: int) -> str:
    """The quadrant of the box centre: ``"top left"`` ... ``"bottom right"``.

    Example:
        >>> object_position([20, 2, 30, 12], 32)
        'top right'
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    right = (x0 + x1) / 2 >= image_size / 2
    bottom = (y0 + y1) / 2 >= image_size / 2
    return POSITION_NAMES[2 * int(bottom) + int(right)]


def _describe(shape, colour, size, position, keep) -> str:
    """One object as words; ``keep`` says which of shape/colour/size/position to say."""
    adjectives = [w for w, k in ((size, keep[2]), (colour, keep[1])) if k]
    where = [f"at the {position}"] if keep[3] else []
    if keep[0]:
        return " ".join(["a", *adjectives, shape, *where])
    return " ".join(["something", *adjectives, *where])


def caption_objects(shapes, colours, sizes, positions, rng=None, keep_probability: float = 0.5) -> str:
    """Caption one scene from its objects' attributes, with templates.

    One object: ``"a small red triangle at the top left"``. Two objects of one
    shape: ``"two crosses"``; of two shapes: ``"a red circle and a blue cross"``.
    With ``rng``, each attribute is said with probability ``keep_probability``
    (at least one is always said), and ``"a photo of "`` is prefixed half the
    time, so training sees short captions like the zero-shot prompts
    (``"a photo of a circle"``, ``"something red"``). Without ``rng`` the caption
    is the full, deterministic description (used for retrieval).

    Args:
        shapes, colours, sizes, positions: sequences of words, one per object
            (1 or 2 objects).
        rng: a ``numpy.random.Generator`` for random variants, or None.
        keep_probability: chance that each attribute is said (with ``rng``).

    Returns:
        The caption, lower case, words separated by single spaces.

    Example:
        >>> caption_objects(["triangle"], ["red"], ["small"], ["top left"])
        'a small red triangle at the top left'
        >>> caption_objects(["cross", "cross"], ["red", "blue"], ["small", "large"], ["top left", "top right"])
        'two crosses'
    """
    count = len(shapes)
    if count not in (1, 2) or not len(colours) == len(sizes) == len(positions) == count:
        _invalid("shapes", list(shapes), "must name 1 or 2 objects, with as many colours, sizes and positions.")
    if count == 2 and shapes[0] == shapes[1]:
        text = f"two {PLURALS[shapes[0]]}"
    else:
        parts = []
        for i in range(count):
            if rng is None:
                keep = (True, True, count == 1, count == 1)
            elif count == 2:  # two objects: each is named by shape, sometimes with its colour
                keep = (True, bool(rng.random() < keep_probability), False, False)
            else:
                keep = tuple(bool(k) for k in rng.random(4) < keep_probability)
                if not any(keep):
                    keep = tuple(j == rng.integers(4) for j in range(4))
                    if not any(keep):
                        keep = (True, False, False, False)
            parts.append(_describe(shapes[i], colours[i], sizes[i], positions[i], keep))
        text = " and ".join(parts)
    if rng is not None and rng.random() < 0.5:
        text = "a photo of " + text
    return text


@dataclasses.dataclass(frozen=True)
class CaptionedScenes:
    """Images with their objects' attributes and a full caption each.

    Attributes:
        images: float32 (N, S, S, 3) in [0, 1].
        captions: N full captions (:func:`caption_objects` without ``rng``).
        shapes: int32 (N, 2), index into ``data.SHAPE_CLASSES``, -1 for no object.
        colours: int32 (N, 2), index into ``data.COLOR_NAMES``, -1 for no object.
        sizes: int32 (N, 2), index into :data:`SIZE_NAMES`, -1 for no object.
        positions: int32 (N, 2), index into :data:`POSITION_NAMES`, -1 for no object.
        counts: int32 (N,), objects per image (1 or 2).
    """

    images: np.ndarray
    captions: tuple
    shapes: np.ndarray
    colours: np.ndarray
    sizes: np.ndarray
    positions: np.ndarray
    counts: np.ndarray

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, keep) -> "CaptionedScenes":
        """The scenes where the boolean (N,) ``keep`` is True (or at integer indices)."""
        index = np.flatnonzero(keep) if np.asarray(keep).dtype == bool else np.asarray(keep)
        return CaptionedScenes(self.images[index], tuple(self.captions[i] for i in index),
                               self.shapes[index], self.colours[index], self.sizes[index],
                               self.positions[index], self.counts[index])

    def words(self, i: int) -> tuple:
        """Scene ``i``'s (shapes, colours, sizes, positions) as lists of words."""
        n = int(self.counts[i])
        return ([data.SHAPE_CLASSES[k] for k in self.shapes[i, :n]],
                [data.COLOR_NAMES[k] for k in self.colours[i, :n]],
                [SIZE_NAMES[k] for k in self.sizes[i, :n]],
                [POSITION_NAMES[k] for k in self.positions[i, :n]])

    def random_captions(self, variants: int, seed: int = 0) -> np.ndarray:
        """(N, variants) random captions per scene (see :func:`caption_objects`)."""
        rng = np.random.default_rng(seed)
        return np.array([[caption_objects(*self.words(i), rng=rng) for _ in range(variants)]
                         for i in range(len(self))], dtype=object)


def make_scenes(num_images: int, image_size: int = 32, two_object_fraction: float = 0.25,
                size_range=(0.3, 0.6), seed: int = 0) -> CaptionedScenes:
    """Generate captioned scenes with :func:`homl_cv.data.make_shapes`.

    A fraction ``two_object_fraction`` of the scenes has two objects, the rest
    one. Size and position words come from the ground-truth boxes
    (:func:`object_size`, :func:`object_position`). The same arguments always
    give the same scenes.

    Args:
        num_images: how many scenes (at least 1).
        image_size: side of the square images in pixels (at least 16).
        two_object_fraction: share of scenes with two objects, in [0, 1].
        size_range: object box side as a fraction of ``image_size``.
        seed: random seed.

    Returns:
        A :class:`CaptionedScenes`.

    Example:
        >>> scenes = make_scenes(4, image_size=32, seed=1)
        >>> scenes.images.shape, len(scenes.captions)
        ((4, 32, 32, 3), 4)
    """
    checks.positive_int(num_images, "num_images")
    if not 0 <= two_object_fraction <= 1:
        _invalid("two_object_fraction", two_object_fraction, "must be a share between 0 and 1, e.g. 0.25.")
    num_two = int(round(num_images * two_object_fraction))
    parts = []
    if num_images - num_two:
        parts.append(data.make_shapes(num_images - num_two, image_size, 1, 1, size_range=size_range, seed=seed))
    if num_two:
        parts.append(data.make_shapes(num_two, image_size, 2, 2, size_range=size_range, seed=seed + 1))
    images = np.concatenate([p.images for p in parts])
    boxes = np.concatenate([np.pad(p.boxes, ((0, 0), (0, 2 - p.boxes.shape[1]), (0, 0)), constant_values=-1)
                            for p in parts])
    classes, colours = (np.concatenate([np.pad(getattr(p, name), ((0, 0), (0, 2 - p.boxes.shape[1])),
                                               constant_values=-1) for p in parts])
                        for name in ("classes", "colors"))
    order = np.random.default_rng(seed).permutation(num_images)
    images, boxes, classes, colours = images[order], boxes[order], classes[order], colours[order]
    counts = (classes >= 0).sum(axis=1).astype(np.int32)
    sizes = np.full(classes.shape, -1, np.int32)
    positions = np.full(classes.shape, -1, np.int32)
    for i, j in zip(*np.nonzero(classes >= 0)):
        sizes[i, j] = SIZE_NAMES.index(object_size(boxes[i, j], image_size, size_range))
        positions[i, j] = POSITION_NAMES.index(object_position(boxes[i, j], image_size))
    scenes = CaptionedScenes(images, (), classes, colours, sizes, positions, counts)
    captions = tuple(caption_objects(*scenes.words(i)) for i in range(num_images))
    return dataclasses.replace(scenes, captions=captions)


def split_held_out(scenes: CaptionedScenes, held_out=HELD_OUT) -> tuple:
    """Split scenes into (seen, held): ``held`` has an object in a held-out colour x shape pair.

    Train on ``seen`` only; ``held`` then tests combinations never shown together.

    Args:
        scenes: a :class:`CaptionedScenes`.
        held_out: (colour, shape) word pairs, e.g. ``(("red", "triangle"),)``.

    Returns:
        ``(seen, held)``, two :class:`CaptionedScenes`.
    """
    pairs = set()
    for pair in held_out:
        if (len(pair) != 2 or pair[0] not in data.COLOR_NAMES or pair[1] not in data.SHAPE_CLASSES):
            _invalid("held_out", held_out, f"must be (colour, shape) pairs with a colour in {data.COLOR_NAMES} "
                                           f"and a shape in {data.SHAPE_CLASSES}, e.g. (('red', 'triangle'),).")
        pairs.add((data.COLOR_NAMES.index(pair[0]), data.SHAPE_CLASSES.index(pair[1])))
    hit = np.zeros(len(scenes), bool)
    for colour, shape in pairs:
        hit |= np.any((scenes.colours == colour) & (scenes.shapes == shape), axis=1)
    return scenes.subset(~hit), scenes.subset(hit)


# ----------------------------------------------------------------------------- encoders
def caption_vocabulary() -> list:
    """Every word the caption templates and prompts can use, sorted (a fixed vocabulary)."""
    words = {"a", "photo", "of", "at", "the", "and", "two", "something", "top", "bottom", "left", "right"}
    words |= set(data.SHAPE_CLASSES) | set(PLURALS.values()) | set(data.COLOR_NAMES) | set(SIZE_NAMES)
    return sorted(words)


def build_text_vectorizer(sequence_length: int = SEQUENCE_LENGTH) -> keras.layers.TextVectorization:
    """A ``TextVectorization`` layer over :func:`caption_vocabulary`: strings -> int token ids.

    Id 0 is padding, 1 an unknown word, then the vocabulary in sorted order; no
    ``adapt()`` is needed, so the ids never depend on the data.

    Example:
        >>> vectorize = build_text_vectorizer(6)
        >>> vectorize(["a red circle"]).shape
        TensorShape([1, 6])
    """
    checks.positive_int(sequence_length, "sequence_length")
    return keras.layers.TextVectorization(vocabulary=caption_vocabulary(), output_mode="int",
                                          output_sequence_length=sequence_length)


def build_image_encoder(image_size: int = 32, embed_dim: int = 64, filters=(16, 32, 64)) -> keras.Model:
    """A small CNN: (B, S, S, 3) images -> (B, embed_dim) features (not yet normalized).

    Conv-BN-ReLU blocks, each followed by 2x2 max pooling, global average
    pooling, then a linear projection head to the shared embedding size.

    Example:
        >>> build_image_encoder(32, 16).output_shape
        (None, 16)
    """
    checks.int_at_least(image_size, "image_size", 2 ** len(filters),
                        f"pixels: each of the {len(filters)} blocks halves the image")
    inputs = keras.Input((image_size, image_size, 3), name="images")
    x = inputs
    for f in filters:
        x = keras.layers.Conv2D(f, 3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(embed_dim, name="image_projection")(x)
    return keras.Model(inputs, outputs, name="image_encoder")


def build_text_encoder(vocabulary_size: int | None = None, sequence_length: int = SEQUENCE_LENGTH,
                       embed_dim: int = 64, width: int = 64, heads: int = 2) -> keras.Model:
    """One Transformer block over token ids: (B, L) int -> (B, embed_dim) features.

    Token embeddings plus learned position embeddings, one block of
    self-attention (padding masked out) and a feed-forward layer, each with a
    residual connection and layer normalization, then the mean over the real
    tokens and a linear projection head.

    Args:
        vocabulary_size: token ids are in [0, vocabulary_size); default: the
            size of :func:`build_text_vectorizer`'s vocabulary.
        sequence_length: tokens per caption (L).
        embed_dim: size of the shared embedding.
        width: size of the token vectors inside the block.
        heads: attention heads.

    Example:
        >>> build_text_encoder(embed_dim=16).output_shape
        (None, 16)
    """
    if vocabulary_size is None:
        vocabulary_size = len(caption_vocabulary()) + 2  # + padding and unknown
    if width % heads:
        _invalid("width", width, f"must be a multiple of heads={heads}, e.g. {heads * 32}.")
    tokens = keras.Input((sequence_length,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(vocabulary_size, width, name="token_embedding")(tokens)
    positions = keras.layers.Embedding(sequence_length, width, name="position_embedding")(
        keras.ops.arange(sequence_length)[None, :])
    x = x + positions
    real = keras.ops.cast(keras.ops.not_equal(tokens, 0), "float32")  # (B, L): 1 for words
    attention_mask = keras.ops.cast(real[:, None, :], "bool")  # a query may look at real words only
    attended = keras.layers.MultiHeadAttention(heads, width // heads)(x, x, attention_mask=attention_mask)
    x = keras.layers.LayerNormalization()(x + attended)
    ff = keras.layers.Dense(2 * width, activation="relu")(x)
    x = keras.layers.LayerNormalization()(x + keras.layers.Dense(width)(ff))
    pooled = keras.ops.sum(x * real[:, :, None], axis=1) / keras.ops.maximum(
        keras.ops.sum(real, axis=1, keepdims=True), 1.0)
    outputs = keras.layers.Dense(embed_dim, name="text_projection")(pooled)
    return keras.Model(tokens, outputs, name="text_encoder")


# ----------------------------------------------------------------------------- loss and model
def clip_loss(logits):
    """Symmetric InfoNCE loss of a (B, B) logit matrix whose diagonal holds the true pairs.

    Row i of ``logits`` scores image i against all B captions; column j scores
    caption j against all images. Each row and each column is a B-way
    classification whose right answer is the diagonal:

    ``loss = (CE(rows, labels=arange(B)) + CE(columns, labels=arange(B))) / 2``

    Args:
        logits: (B, B) float, scaled cosine similarities ``s * I @ T.T``.

    Returns:
        The scalar loss (a tensor).

    Example:
        >>> round(float(clip_loss(np.zeros((4, 4)))), 4)  # chance: log(4)
        1.3863
    """
    logits = keras.ops.convert_to_tensor(logits, dtype="float32")
    labels = keras.ops.arange(keras.ops.shape(logits)[0])
    image_to_text = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    text_to_image = keras.losses.sparse_categorical_crossentropy(
        labels, keras.ops.transpose(logits), from_logits=True)
    return (keras.ops.mean(image_to_text) + keras.ops.mean(text_to_image)) / 2


class ClipModel(keras.Model):
    """Two encoders, L2-normalized embeddings and a learned temperature; trains on InfoNCE.

    Called on ``(images, tokens)`` (B images and their B captions' token ids),
    it returns the (B, B) logits ``exp(t) * I @ T.T``, where I and T are the
    unit-length image and text embeddings and ``t`` is the learned log inverse
    temperature, initialised at ``log(1 / 0.07)`` and clipped to
    ``[0, log(max_scale)]``. ``fit`` on batches of ``(images, tokens)`` minimizes
    :func:`clip_loss` and reports it with the in-batch image->text accuracy.

    Args:
        image_encoder: (B, S, S, 3) -> (B, D) model.
        text_encoder: (B, L) int -> (B, D) model.
        temperature: initial temperature (CLIP: 0.07).
        max_scale: largest allowed ``exp(t)`` (CLIP: 100).
        group_size: None (default) contrasts each pair with the whole batch.
            An integer g splits the batch into groups of g consecutive pairs
            and contrasts each pair only within its group (g - 1 negatives):
            same data and compute per step, fewer negatives (the batch size
            must be a multiple of g).
    """

    def __init__(self, image_encoder, text_encoder, temperature: float = 0.07, max_scale: float = 100.0,
                 group_size: int | None = None, **kwargs):  # pragma: no mutate block
        super().__init__(**kwargs)
        if not 0 < temperature < 1:
            _invalid("temperature", temperature, "must be between 0 and 1 (exclusive), e.g. 0.07.")
        if group_size is not None:
            checks.int_at_least(group_size, "group_size", 2, "pairs per group; None: the whole batch")
        self.group_size = group_size
        self.image_encoder = image_encoder
        self.text_encoder = text_encoder
        self.max_log_scale = float(np.log(max_scale))
        self.log_scale = self.add_weight(shape=(), name="log_scale", trainable=True,
                                         initializer=keras.initializers.Constant(np.log(1 / temperature)))
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy_tracker = keras.metrics.Mean(name="accuracy")

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy_tracker]

    @property
    def scale(self):
        """``exp(t)``, the inverse temperature, after clipping."""
        return keras.ops.exp(keras.ops.clip(self.log_scale, 0.0, self.max_log_scale))

    def embed_images(self, images, training=False):
        """(B, S, S, 3) -> (B, D) unit vectors."""
        return keras.ops.normalize(self.image_encoder(images, training=training), axis=-1)

    def embed_tokens(self, tokens, training=False):
        """(B, L) token ids -> (B, D) unit vectors."""
        return keras.ops.normalize(self.text_encoder(tokens, training=training), axis=-1)

    def call(self, inputs, training=False):
        images, tokens = inputs
        image_embeddings = self.embed_images(images, training)
        text_embeddings = self.embed_tokens(tokens, training)
        return self.scale * keras.ops.matmul(image_embeddings, keras.ops.transpose(text_embeddings))

    def _update_metrics(self, logits, loss):
        labels = keras.ops.arange(keras.ops.shape(logits)[0])
        hits = keras.ops.cast(keras.ops.equal(keras.ops.argmax(logits, axis=1), labels), "float32")
        self.loss_tracker.update_state(loss)
        self.accuracy_tracker.update_state(keras.ops.mean(hits))
        return {m.name: m.result() for m in self.metrics}

    def contrastive_loss(self, logits):
        """:func:`clip_loss`; with ``group_size``, pairs from other groups are masked out."""
        if self.group_size is not None:
            index = keras.ops.arange(keras.ops.shape(logits)[0]) // self.group_size
            same_group = keras.ops.equal(index[:, None], index[None, :])
            logits = keras.ops.where(same_group, logits, -1e9)  # exp(-1e9) = 0: not a negative
        return clip_loss(logits)

    def train_step(self, batch):
        images, tokens = batch
        with tf.GradientTape() as tape:
            logits = self((images, tokens), training=True)
            loss = self.contrastive_loss(logits)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        return self._update_metrics(logits, loss)

    def test_step(self, batch):
        images, tokens = batch
        logits = self((images, tokens), training=False)
        return self._update_metrics(logits, self.contrastive_loss(logits))


def build_clip(image_size: int = 32, embed_dim: int = 64, temperature: float = 0.07,
               learning_rate: float = 2e-3, group_size: int | None = None) -> ClipModel:
    """A compiled :class:`ClipModel` with the default encoders (AdamW).

    Example:
        >>> model = build_clip(32, 16)
        >>> model.image_encoder.output_shape, model.text_encoder.output_shape
        ((None, 16), (None, 16))
    """
    checks.positive_int(embed_dim, "embed_dim")
    model = ClipModel(build_image_encoder(image_size, embed_dim), build_text_encoder(embed_dim=embed_dim),
                      temperature=temperature, group_size=group_size)
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate, weight_decay=1e-4))
    return model


# ----------------------------------------------------------------------------- using the model
def _vectorizer(model):
    seq = model.text_encoder.input_shape[1]
    return build_text_vectorizer(seq)


def encode_images(model: ClipModel, images, batch_size: int = 256) -> np.ndarray:
    """(N, S, S, 3) images -> (N, D) float32 unit vectors."""
    images = checks.image_batch(images, "images", np.float32)
    return np.concatenate([keras.ops.convert_to_numpy(model.embed_images(images[i:i + batch_size]))
                           for i in range(0, len(images), batch_size)])


def encode_texts(model: ClipModel, texts, batch_size: int = 1024) -> np.ndarray:
    """N strings -> (N, D) float32 unit vectors (vectorized with the fixed vocabulary)."""
    if isinstance(texts, str):
        _invalid("texts", texts, "must be a list of strings: pass [texts] for one.")
    texts = list(texts)
    tokens = keras.ops.convert_to_numpy(_vectorizer(model)(texts))
    return np.concatenate([keras.ops.convert_to_numpy(model.embed_tokens(tokens[i:i + batch_size]))
                           for i in range(0, len(tokens), batch_size)])


def similarity_matrix(image_embeddings, text_embeddings) -> np.ndarray:
    """(N, D) and (M, D) unit vectors -> (N, M) cosine similarities."""
    return np.asarray(image_embeddings, np.float32) @ np.asarray(text_embeddings, np.float32).T


def zero_shot_predict(model: ClipModel, images, prompts) -> np.ndarray:
    """Zero-shot classification: the index of the prompt nearest to each image.

    Args:
        model: a trained :class:`ClipModel`.
        images: (N, S, S, 3) floats in [0, 1].
        prompts: one string per class, e.g. ``["a photo of a circle", ...]``.

    Returns:
        (N,) int, index into ``prompts``.
    """
    if isinstance(prompts, str) or len(prompts) < 2:
        _invalid("prompts", prompts, "must be a list of at least two prompts, one per class.")
    return similarity_matrix(encode_images(model, images), encode_texts(model, prompts)).argmax(axis=1)


def recall_at_k(similarity, k: int, relevant=None) -> float:
    """Share of queries (rows) with a relevant item among their ``k`` most similar columns.

    Args:
        similarity: (N, M) scores, one row per query.
        k: how many top items count (1 <= k <= M).
        relevant: (N, M) bool, which items are right answers for each query;
            default: the diagonal (query i's answer is item i, N == M).

    Returns:
        Recall@k in [0, 1].

    Example:
        >>> recall_at_k(np.array([[0.9, 0.1], [0.8, 0.2]]), 1)
        0.5
    """
    similarity = np.asarray(similarity, np.float64)
    if similarity.ndim != 2:
        _invalid("similarity.shape", similarity.shape, "must be 2-D: (queries, items) scores.")
    n, m = similarity.shape
    if not checks.is_int(k) or not 1 <= k <= m:
        _invalid("k", k, f"must be an integer between 1 and the number of items ({m}).")
    if relevant is None:
        if n != m:
            _invalid("relevant", None, f"must be given for a {n}x{m} matrix (it has no diagonal): (N, M) booleans.")
        relevant = np.eye(n, dtype=bool)
    relevant = np.asarray(relevant, bool)
    if relevant.shape != similarity.shape:
        _invalid("relevant.shape", relevant.shape, f"must be the similarity's shape {similarity.shape}.")
    top = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    return float(np.mean(np.take_along_axis(relevant, top, axis=1).any(axis=1)))


@dataclasses.dataclass
class ClipTraining:
    """What :func:`train_clip` returns.

    Attributes:
        model: the trained :class:`ClipModel`.
        history: Keras history dict (``loss``, ``accuracy`` per epoch).
        seconds: wall-clock training time.
    """

    model: ClipModel
    history: dict
    seconds: float


def train_clip(scenes: CaptionedScenes, epochs: int = 10, batch_size: int = 64, variants: int = 4,
               embed_dim: int = 64, learning_rate: float = 2e-3, seed: int = 0, verbose: int = 2,
               group_size: int | None = None, model: ClipModel | None = None) -> ClipTraining:
    """Train a :class:`ClipModel` on scenes, each paired with ``variants`` random captions per epoch.

    Every scene appears ``variants`` times per epoch, each time with another
    random caption (:meth:`CaptionedScenes.random_captions`), in shuffled
    batches of ``batch_size`` (the last, smaller batch is dropped so every
    step has the same number of negatives).

    Args:
        scenes: training scenes (e.g. the ``seen`` part of :func:`split_held_out`).
        epochs: passes over the scenes x variants.
        batch_size: pairs per batch: each pair has ``batch_size - 1`` negatives.
        variants: random captions per scene.
        embed_dim: shared embedding size.
        learning_rate: AdamW learning rate.
        seed: seeds the captions, the shuffling and the weights.
        verbose: Keras ``fit`` verbosity.
        group_size: contrast each pair within groups of this many pairs only
            (see :class:`ClipModel`); None: the whole batch.
        model: continue training this model instead of building one.

    Returns:
        A :class:`ClipTraining`.
    """
    checks.positive_int(variants, "variants")
    if not checks.is_int(batch_size) or not 2 <= batch_size <= len(scenes) * variants:
        _invalid("batch_size", batch_size, f"must be an integer from 2 to scenes x variants ({len(scenes) * variants}).")
    keras.utils.set_random_seed(seed)
    if model is None:
        if group_size is not None and batch_size % group_size:
            _invalid("group_size", group_size, f"must divide batch_size={batch_size}.")
        model = build_clip(scenes.images.shape[1], embed_dim, learning_rate=learning_rate, group_size=group_size)
    captions = scenes.random_captions(variants, seed)
    tokens = keras.ops.convert_to_numpy(build_text_vectorizer()(captions.reshape(-1).tolist()))
    image_index = np.repeat(np.arange(len(scenes)), variants)
    dataset = (tf.data.Dataset.from_tensor_slices((image_index, tokens))
               .shuffle(len(tokens), seed=seed, reshuffle_each_iteration=True)
               .batch(batch_size, drop_remainder=True)
               .map(lambda i, t: (tf.gather(scenes.images, i), t))
               .prefetch(2))
    start = time.perf_counter()
    history = model.fit(dataset, epochs=epochs, verbose=verbose, shuffle=False)
    return ClipTraining(model, history.history, time.perf_counter() - start)


@dataclasses.dataclass(frozen=True)
class ClipEvaluation:
    """What :func:`evaluate_clip` measures (all in [0, 1]).

    Attributes:
        shape_accuracy: zero-shot shape (4 prompts) on one-object scenes of seen pairs.
        colour_accuracy: zero-shot colour (6 prompts) on the same scenes.
        pair_accuracy: zero-shot colour x shape (24 prompts) on the same scenes.
        held_out_pair_accuracy: the same 24-way task on scenes of held-out pairs.
        image_to_text_r1, image_to_text_r5: recall@1/@5 of each image's full
            caption among the test captions (any identical caption counts).
        text_to_image_r1, text_to_image_r5: recall@1/@5 of a matching image
            for each caption.
    """

    shape_accuracy: float
    colour_accuracy: float
    pair_accuracy: float
    held_out_pair_accuracy: float
    image_to_text_r1: float
    image_to_text_r5: float
    text_to_image_r1: float
    text_to_image_r5: float


SHAPE_PROMPT = "a photo of a {shape}"
COLOUR_PROMPT = "a photo of something {colour}"
PAIR_PROMPT = "a photo of a {colour} {shape}"


def pair_prompts() -> list:
    """The 24 colour x shape prompts, colour-major: index ``colour * 4 + shape``."""
    return [PAIR_PROMPT.format(colour=c, shape=s) for c in data.COLOR_NAMES for s in data.SHAPE_CLASSES]



def evaluate_clip(model: ClipModel, seen: CaptionedScenes, held: CaptionedScenes) -> ClipEvaluation:
    """Zero-shot accuracies and retrieval recalls on test scenes.

    Args:
        model: a trained :class:`ClipModel`.
        seen: test scenes with seen colour x shape pairs only (zero-shot on the
            one-object scenes; retrieval on all of them).
        held: test scenes with a held-out pair (the one-object ones are used).

    Returns:
        A :class:`ClipEvaluation`.
    """
    single, held_single = seen.subset(seen.counts == 1), held.subset(held.counts == 1)
    if len(single) == 0 or len(held_single) == 0:
        _invalid("(len(seen), len(held))", (len(seen), len(held)), "must both hold one-object scenes.")
    image_embeddings = encode_images(model, single.images)
    shape_prompts = encode_texts(model, [SHAPE_PROMPT.format(shape=s) for s in data.SHAPE_CLASSES])
    colour_prompts = encode_texts(model, [COLOUR_PROMPT.format(colour=c) for c in data.COLOR_NAMES])
    pairs = encode_texts(model, pair_prompts())
    shape = float(np.mean(similarity_matrix(image_embeddings, shape_prompts).argmax(1) == single.shapes[:, 0]))
    colour = float(np.mean(similarity_matrix(image_embeddings, colour_prompts).argmax(1) == single.colours[:, 0]))
    pair_truth = single.colours[:, 0] * len(data.SHAPE_CLASSES) + single.shapes[:, 0]
    pair = float(np.mean(similarity_matrix(image_embeddings, pairs).argmax(1) == pair_truth))
    held_truth = held_single.colours[:, 0] * len(data.SHAPE_CLASSES) + held_single.shapes[:, 0]
    held_pred = similarity_matrix(encode_images(model, held_single.images), pairs).argmax(1)
    held_pair = float(np.mean(held_pred == held_truth))
    # retrieval among all seen test scenes, full captions; identical captions are all right answers
    similarity = similarity_matrix(encode_images(model, seen.images), encode_texts(model, seen.captions))
    captions = np.array(seen.captions, dtype=object)
    relevant = captions[:, None] == captions[None, :]
    return ClipEvaluation(
        shape, colour, pair, held_pair,
        recall_at_k(similarity, 1, relevant), recall_at_k(similarity, 5, relevant),
        recall_at_k(similarity.T, 1, relevant.T), recall_at_k(similarity.T, 5, relevant.T),
    )
