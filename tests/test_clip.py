"""homl_cv.clip: captions, the held-out split, the InfoNCE loss, encoders, recall@k, errors.

The learning claims (zero-shot accuracy, recall) are checked in chapter 09's
claim cells, which nbval runs.
"""

import numpy as np
import pytest

from homl_cv import clip, data


def _log_softmax(x, axis):
    x = x - x.max(axis=axis, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=axis, keepdims=True))


def _reference_loss(logits):
    logits = np.asarray(logits, np.float64)
    diag = np.arange(len(logits))
    rows = -_log_softmax(logits, 1)[diag, diag].mean()
    cols = -_log_softmax(logits, 0)[diag, diag].mean()
    return (rows + cols) / 2


def test_clip_loss_by_hand_2x2():
    # rows: image 0 -> [2, 0]: -log(e^2 / (e^2 + 1)); image 1 -> [1, 3]: -log(e^3 / (e + e^3))
    logits = np.array([[2.0, 0.0], [1.0, 3.0]])
    rows = (np.log1p(np.exp(-2.0)) + np.log1p(np.exp(-2.0))) / 2
    cols = (np.log1p(np.exp(-1.0)) + np.log1p(np.exp(-3.0))) / 2
    assert float(clip.clip_loss(logits)) == pytest.approx((rows + cols) / 2, rel=1e-5)


def test_clip_loss_matches_numpy_reference_3x3_and_is_symmetric_in_roles():
    logits = np.array([[3.0, 0.5, -1.0], [0.2, 2.0, 0.1], [1.5, -0.3, 0.7]])
    assert float(clip.clip_loss(logits)) == pytest.approx(_reference_loss(logits), rel=1e-5)
    # swapping the roles of images and texts transposes the matrix: same loss
    assert float(clip.clip_loss(logits.T)) == pytest.approx(float(clip.clip_loss(logits)), rel=1e-6)


def test_clip_loss_is_the_mean_of_both_directions_checked_separately():
    import keras

    # a batch where image->text (rows) and text->image (columns) differ: image 1 scores caption 0
    # above its own (row 1), while every caption still scores its own image highest
    logits = np.array([[4.0, 0.0, 0.0], [3.5, 1.0, 0.0], [0.0, 0.5, 2.0]], np.float32)
    labels = np.arange(3)
    image_to_text = float(np.mean(keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)))
    text_to_image = float(np.mean(keras.losses.sparse_categorical_crossentropy(labels, logits.T, from_logits=True)))
    rows = -_log_softmax(logits.astype(np.float64), 1)[labels, labels].mean()
    cols = -_log_softmax(logits.astype(np.float64), 0)[labels, labels].mean()
    assert image_to_text == pytest.approx(rows, rel=1e-5) and text_to_image == pytest.approx(cols, rel=1e-5)
    assert abs(rows - cols) > 0.5          # the two directions really differ here
    assert float(clip.clip_loss(logits)) == pytest.approx((rows + cols) / 2, rel=1e-5)
    # retrieval in each direction: rows are image queries, the transpose text queries
    assert clip.recall_at_k(logits, 1) == pytest.approx(2 / 3)  # image 1 finds caption 0 first
    assert clip.recall_at_k(logits.T, 1) == 1.0                 # every caption finds its image first


def test_clip_loss_at_chance_is_log_batch_size():
    for b in (2, 8, 64):
        assert float(clip.clip_loss(np.zeros((b, b)))) == pytest.approx(np.log(b), rel=1e-5)


def test_caption_templates():
    assert clip.caption_objects(["triangle"], ["red"], ["small"], ["top left"]) == \
        "a small red triangle at the top left"
    assert clip.caption_objects(["cross", "cross"], ["red", "blue"], ["small", "large"],
                                ["top left", "top right"]) == "two crosses"
    assert clip.caption_objects(["circle", "cross"], ["red", "blue"], ["small", "large"],
                                ["top left", "top right"]) == "a red circle and a blue cross"
    rng = np.random.default_rng(0)
    vocabulary = set(clip.caption_vocabulary())
    for _ in range(200):
        text = clip.caption_objects(["square"], ["cyan"], ["large"], ["bottom right"], rng=rng)
        assert set(text.split()) <= vocabulary and text.split()[-1] in {"square", "cyan", "large", "right"}
        assert len(text.split()) <= clip.SEQUENCE_LENGTH
    assert clip.object_size([0, 0, 8, 8], 32) == "small" and clip.object_size([0, 0, 20, 18], 32) == "large"
    assert clip.object_position([20, 2, 30, 12], 32) == "top right"
    assert clip.object_position([0, 20, 10, 30], 32) == "bottom left"


def test_scene_captions_follow_the_ground_truth():
    scenes = clip.make_scenes(40, image_size=32, seed=3)
    assert scenes.images.shape == (40, 32, 32, 3) and len(scenes.captions) == 40
    assert set(np.unique(scenes.counts)) <= {1, 2} and (scenes.counts == 2).sum() == 10
    for i in range(40):
        shapes, colours, sizes, positions = scenes.words(i)
        caption = scenes.captions[i]
        if len(shapes) == 1:
            assert caption == f"a {sizes[0]} {colours[0]} {shapes[0]} at the {positions[0]}"
        elif shapes[0] == shapes[1]:
            assert caption == f"two {clip.PLURALS[shapes[0]]}"
        else:
            assert caption == f"a {colours[0]} {shapes[0]} and a {colours[1]} {shapes[1]}"


def test_held_out_split_keeps_held_out_pairs_out_of_training():
    scenes = clip.make_scenes(300, image_size=32, seed=5)
    seen, held = clip.split_held_out(scenes, clip.HELD_OUT)
    assert len(seen) + len(held) == 300 and len(held) > 0
    for colour, shape in clip.HELD_OUT:
        c, s = data.COLOR_NAMES.index(colour), data.SHAPE_CLASSES.index(shape)
        assert not np.any((seen.colours == c) & (seen.shapes == s))
        for caption in seen.captions:
            assert f"{colour} {shape}" not in caption
    c, s = data.COLOR_NAMES.index("red"), data.SHAPE_CLASSES.index("triangle")
    assert np.any((held.colours == c) & (held.shapes == s))
    # each held-out colour and shape is still seen in other pairs
    assert all(np.any(seen.colours == data.COLOR_NAMES.index(c)) for c, _ in clip.HELD_OUT)


def test_vectorizer_is_fixed_and_encoders_have_the_documented_shapes():
    vectorize = clip.build_text_vectorizer()
    tokens = np.asarray(vectorize(["a photo of a red circle", "something cyan"]))
    assert tokens.shape == (2, clip.SEQUENCE_LENGTH) and tokens[1, 2] == 0
    assert np.array_equal(tokens, np.asarray(clip.build_text_vectorizer()(["a photo of a red circle",
                                                                           "something cyan"])))
    model = clip.build_clip(image_size=32, embed_dim=8)
    images = np.random.default_rng(0).random((3, 32, 32, 3)).astype(np.float32)
    assert model.image_encoder(images).shape == (3, 8)
    assert model.text_encoder(tokens).shape == (2, 8)
    logits = np.asarray(model((images, np.concatenate([tokens, tokens[:1]]))))
    assert logits.shape == (3, 3)
    assert float(model.scale) == pytest.approx(1 / 0.07, rel=1e-4)
    emb = clip.encode_texts(model, ["a red circle", "two crosses"])
    assert emb.shape == (2, 8) and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
    assert clip.zero_shot_predict(model, images, ["a circle", "a square"]).shape == (3,)


def test_recall_at_k_on_a_crafted_similarity_matrix():
    similarity = np.array([
        [0.9, 0.1, 0.0, 0.2],   # right answer first
        [0.8, 0.3, 0.1, 0.0],   # right answer second
        [0.9, 0.8, 0.7, 0.1],   # right answer third
        [0.4, 0.3, 0.2, 0.1],   # right answer last
    ])
    assert clip.recall_at_k(similarity, 1) == 0.25
    assert clip.recall_at_k(similarity, 2) == 0.5
    assert clip.recall_at_k(similarity, 3) == 0.75
    assert clip.recall_at_k(similarity, 4) == 1.0
    relevant = np.eye(4, dtype=bool)
    relevant[1, 0] = True  # e.g. two identical captions: both count
    assert clip.recall_at_k(similarity, 1, relevant) == 0.5


def test_bad_arguments_name_the_argument_value_and_fix():
    with pytest.raises(ValueError, match=r"k=0 must be an integer between 1 and the number of items \(2\)"):
        clip.recall_at_k(np.eye(2), 0)
    with pytest.raises(ValueError, match=r"relevant=None must be given for a 2x3 matrix \(it has no diagonal\)"):
        clip.recall_at_k(np.zeros((2, 3)), 1)
    with pytest.raises(ValueError, match=r"held_out=.*'purple'.* must be \(colour, shape\) pairs"):
        clip.split_held_out(clip.make_scenes(2, seed=0), (("purple", "circle"),))
    with pytest.raises(ValueError, match=r"num_images=0 must be a positive integer"):
        clip.make_scenes(0)
    with pytest.raises(ValueError, match=r"temperature=0 must be between 0 and 1"):
        clip.ClipModel(clip.build_image_encoder(), clip.build_text_encoder(), temperature=0)
    with pytest.raises(ValueError, match=r"prompts='a circle' must be a list of at least two prompts"):
        clip.zero_shot_predict(None, np.zeros((1, 32, 32, 3)), "a circle")
    with pytest.raises(ValueError, match=r"shapes=\['a', 'b', 'c'\] must name 1 or 2 objects"):
        clip.caption_objects(["a", "b", "c"], ["red"] * 3, ["small"] * 3, ["top left"] * 3)
    with pytest.raises(ValueError, match=r"image_size=4 must be an integer of at least 8 \(pixels: each of the 3 blocks halves"):
        clip.build_image_encoder(4)


def test_group_size_contrasts_each_pair_within_its_group_only():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 2, (4, 4)).astype(np.float32)
    model = clip.ClipModel(clip.build_image_encoder(), clip.build_text_encoder(), group_size=2)
    blocks = (_reference_loss(logits[:2, :2]) + _reference_loss(logits[2:, 2:])) / 2
    assert float(model.contrastive_loss(logits)) == pytest.approx(blocks, rel=1e-5)
    whole = clip.ClipModel(clip.build_image_encoder(), clip.build_text_encoder())
    assert float(whole.contrastive_loss(logits)) == pytest.approx(_reference_loss(logits), rel=1e-5)
    with pytest.raises(ValueError, match=r"group_size=1 must be an integer of at least 2 \(pairs per group; None: the whole batch\)"):
        clip.ClipModel(clip.build_image_encoder(), clip.build_text_encoder(), group_size=1)
