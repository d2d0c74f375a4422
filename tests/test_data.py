"""Loaders in offline mode, their error paths, and the generated shapes."""

import dataclasses
import time

import numpy as np
import pytest

from homl_cv import boxes, data, datasets, sources

FLOWER_CLASSES = datasets.get("tf_flowers").class_names


# --------------------------------------------------------------------- photos
@pytest.mark.parametrize("name", data.SAMPLE_PHOTOS)
def test_sample_photos_are_real_rgb_images(name):
    photo = data.load_sample_image(name)
    assert photo.dtype == np.uint8 and photo.ndim == 3 and photo.shape[2] == 3
    assert photo.shape[0] >= 300 and photo.std() > 20  # a photo, not a blank


def test_sample_batch_scaled_and_resized():
    batch = data.load_sample_images(("china", "flower"))
    assert batch.shape == (2, 427, 640, 3) and batch.dtype == np.float32
    assert 0.0 <= batch.min() and batch.max() <= 1.0
    resized = data.load_sample_images(("china", "chelsea"), size=(64, 96))
    assert resized.shape == (2, 64, 96, 3)


def test_sample_photo_errors_say_what_to_do():
    with pytest.raises(ValueError, match=r"name='mona_lisa' must be 'china', 'flower', .* or 'rocket'\."):
        data.load_sample_image("mona_lisa")
    with pytest.raises(ValueError, match=r"pass size=\(height, width\)"):
        data.load_sample_images(("china", "chelsea"))


# --------------------------------------------------------------------- digits / MNIST
def test_offline_mnist_is_the_upscaled_digits(capsys):
    splits = data.load_mnist(offline=True)
    assert "instead of mnist" in capsys.readouterr().out
    assert splits.x_train.shape == (1297, 28, 28)
    assert splits.x_valid.shape == (250, 28, 28) and splits.x_test.shape == (250, 28, 28)
    assert splits.x_train.dtype == np.uint8 and splits.x_train.max() > 200
    for y in (splits.y_train, splits.y_valid, splits.y_test):
        assert set(np.unique(y)) == set(range(10))
    assert len(splits.x_train) + len(splits.x_valid) + len(splits.x_test) == 1797
    assert "offline stand-in" in splits.source


def test_digits_split_is_deterministic():
    a, b = data.load_digits_28x28(), data.load_digits_28x28()
    np.testing.assert_array_equal(a.x_test, b.x_test)
    np.testing.assert_array_equal(a.y_train, b.y_train)


def test_failed_mnist_download_is_fast_and_says_how_to_fix(monkeypatch, tmp_path):
    # A port nothing listens on: the real download code fails at once.
    monkeypatch.setitem(datasets.DATASETS, "mnist",
                        dataclasses.replace(datasets.get("mnist"), url="http://127.0.0.1:9/mnist.npz"))
    start = time.perf_counter()
    with pytest.raises(sources.DownloadError) as err:
        data.load_mnist(offline=False, data_dir=tmp_path)
    assert time.perf_counter() - start < 30
    message = str(err.value)
    assert "Could not download 'mnist'" in message
    assert str(tmp_path) in message and "HOML_CV_OFFLINE=1" in message


def test_unknown_mnist_kind():
    with pytest.raises(ValueError, match="'mnist' or 'fashion_mnist'"):
        data.load_mnist(kind="kmnist", offline=True)


def test_missing_data_dir_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="data_dir=.*not an existing folder"):
        data.load_flowers(offline=True, data_dir=tmp_path / "nope")


# --------------------------------------------------------------------- flowers
def test_offline_flowers_use_mock_data_and_say_so(capsys, tmp_path):
    splits = data.load_flowers(offline=True, data_dir=tmp_path, mock_examples=6)
    assert "mock data" in capsys.readouterr().out
    assert splits.source == "tfds mock data"
    assert splits.class_names == FLOWER_CLASSES
    images = labels = 0
    for image, label in splits.train:
        assert image.dtype.name == "uint8" and image.shape.rank == 3 and image.shape[-1] == 3
        assert 0 <= int(label) < 5
        images, labels = images + 1, labels + 1
    assert images == 6


def test_interrupted_download_folder_does_not_count_as_prepared(capsys, tmp_path):
    # An interrupted download leaves tf_flowers/ without dataset_info.json.
    (tmp_path / "tf_flowers" / "3.0.1").mkdir(parents=True)
    splits = data.load_flowers(offline=True, data_dir=tmp_path, mock_examples=4)
    assert splits.source == "tfds mock data"
    assert "mock data" in capsys.readouterr().out


def test_failed_flowers_download_names_dataset_and_fixes(monkeypatch, tmp_path):
    import tensorflow_datasets as tfds

    def refuse(*args, **kwargs):
        raise ConnectionError("network unreachable")

    monkeypatch.setattr(tfds, "load", refuse)
    # the host answers the quick probe, then the download itself fails
    monkeypatch.setattr(sources, "require_network", lambda *args: None)
    with pytest.raises(sources.DownloadError, match=r"(?s)'tf_flowers'.*network unreachable.*offline mode"):
        data.load_flowers(offline=False, data_dir=tmp_path)


def test_flowers_split_fractions_are_the_books():
    assert data.FLOWERS_SPLITS == ("train[25%:]", "train[10%:25%]", "train[:10%]")


# --------------------------------------------------------------------- shapes
@pytest.fixture(scope="module")
def shapes():
    return data.make_shapes(200, image_size=48, min_objects=1, max_objects=3, seed=3)


def test_shapes_arrays_and_ranges(shapes):
    assert shapes.images.shape == (200, 48, 48, 3) and shapes.images.dtype == np.float32
    assert 0 <= shapes.images.min() and shapes.images.max() <= 1
    assert shapes.boxes.shape == (200, 3, 4) and shapes.classes.shape == (200, 3)
    assert shapes.masks.shape == (200, 48, 48) and shapes.masks.dtype == np.uint8
    counts = shapes.num_objects()
    assert counts.min() >= 1 and counts.max() == 3
    valid = shapes.classes >= 0
    assert set(np.unique(shapes.classes[valid])) == set(range(4))
    np.testing.assert_array_equal(shapes.boxes[~valid], -1)
    boxes.validate_boxes(shapes.boxes[valid], "xyxy", image_size=(48, 48))


def test_shapes_are_deterministic():
    a = data.make_shapes(5, image_size=32, max_objects=2, seed=11)
    b = data.make_shapes(5, image_size=32, max_objects=2, seed=11)
    c = data.make_shapes(5, image_size=32, max_objects=2, seed=12)
    np.testing.assert_array_equal(a.images, b.images)
    assert not np.array_equal(a.images, c.images)


def test_shapes_do_not_depend_on_earlier_calls():
    # Regression: shapes once leaked into the cached photo backgrounds.
    first = data.make_shapes(30, image_size=40, max_objects=2, seed=3)
    data.make_shapes(60, image_size=40, max_objects=3, seed=4)
    again = data.make_shapes(30, image_size=40, max_objects=2, seed=3)
    np.testing.assert_array_equal(first.images, again.images)


def test_single_object_box_is_tight_around_its_mask():
    single = data.make_shapes(100, image_size=40, seed=5)
    for box, cls, mask in zip(single.boxes[:, 0], single.classes[:, 0], single.masks):
        rows, cols = np.nonzero(mask)
        np.testing.assert_array_equal(box, [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1])
        assert set(np.unique(mask)) == {0, cls + 1}


def test_overlap_limit_is_respected(shapes):
    for b, c in zip(shapes.boxes, shapes.classes):
        b = b[c >= 0]
        pair_iou = boxes.iou(b, b) - np.eye(len(b))
        assert pair_iou.max() <= 0.25 + 0.05  # tight boxes may shrink a little from the placed ones


def test_shapes_dataset_follows_keras_box_dict_convention(shapes):
    element = next(iter(shapes.to_dataset(batch_size=4)))
    assert element["images"].shape == (4, 48, 48, 3)
    assert element["bounding_boxes"]["boxes"].shape == (4, 3, 4)
    assert element["bounding_boxes"]["classes"].shape == (4, 3)
    assert element["segmentation_masks"].shape == (4, 48, 48, 1)


def test_split_fractions(shapes):
    train, valid, test = shapes.split((0.8, 0.1, 0.1))
    assert (len(train), len(valid), len(test)) == (160, 20, 20)
    with pytest.raises(ValueError, match="add up to 1"):
        shapes.split((0.5, 0.2))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(num_images=0), "num_images=0"),
        (dict(num_images=2, image_size=8), "image_size=8 must be an integer of at least 16"),
        (dict(num_images=2, min_objects=3, max_objects=2), r"\(min_objects, max_objects\)=\(3, 2\) must be \(min, max\) with 1 <= min <= max\."),
        (dict(num_images=2, num_classes=5), "num_classes=5"),
        (dict(num_images=2, size_range=(0.5, 0.2)), "size_range"),
    ],
)
def test_shapes_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.make_shapes(**kwargs)


def test_a_few_thousand_images_take_seconds():
    start = time.perf_counter()
    data.make_shapes(2000, image_size=128, max_objects=3, seed=0)
    assert time.perf_counter() - start < 30


# ------------------------------------------------------------- shapes: no shortcut
def _object_features(shapes):
    """Per image (one object each): mean and std colour of its pixels, box size and place."""
    colour, geometry = [], []
    for image, mask, box in zip(shapes.images, shapes.masks, shapes.boxes[:, 0]):
        pixels = image[mask > 0]
        colour.append(np.concatenate([pixels.mean(0), pixels.std(0)]))
        geometry.append([box[2] - box[0], box[3] - box[1], box[0], box[1]])
    return np.array(colour), np.array(geometry)


def test_shapes_colour_size_and_place_do_not_give_the_class_away():
    # A linear probe on colour statistics, or on box size and position, stays near
    # chance (0.25 for 4 classes): only the outline tells the classes apart.
    # Measured: colour 0.25, size/place 0.23 (800 images, 5 folds). The old generator
    # (one colour per class) scored 1.00 on the colour probe.
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    shapes = data.make_shapes(800, image_size=64, seed=3)
    labels = shapes.classes[:, 0]
    for features in _object_features(shapes):
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        assert cross_val_score(probe, features, labels, cv=5).mean() <= 0.40


def _fill_features(shapes):
    """Per image (one object each): the share of its tight box its mask fills, and mask pixels per box side."""
    features = []
    for mask, box in zip(shapes.masks, shapes.boxes[:, 0]):
        width, height = box[2] - box[0], box[3] - box[1]
        pixels = (mask > 0).sum()
        features.append([pixels / (width * height), pixels / width, pixels / height])
    return np.array(features)


def test_shapes_fill_fraction_does_not_give_the_class_away():
    # How much of its tight box a shape's mask fills is a one-number shortcut for solid
    # shapes (square 1.0, circle 0.79, cross 0.57, triangle 0.53): on the solid-shape
    # generator the linear probe scored 0.91 and the threshold probe 0.92. Outlines whose fill fraction is drawn from one
    # class-independent distribution leave it at chance (0.25). Measured on the outlines:
    # linear 0.25, thresholds 0.25 (800 images, 5 folds); per-class mean fill fractions
    # 0.371-0.384 (within 0.02).
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    shapes = data.make_shapes(800, image_size=64, seed=3)
    labels = shapes.classes[:, 0]
    features = _fill_features(shapes)
    linear = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    assert cross_val_score(linear, features, labels, cv=5).mean() <= 0.35
    thresholds = DecisionTreeClassifier(max_depth=3, random_state=0)  # per-class thresholds
    assert cross_val_score(thresholds, features[:, :1], labels, cv=5).mean() <= 0.35
    means = [features[labels == k, 0].mean() for k in range(len(data.SHAPE_CLASSES))]
    assert max(means) - min(means) <= 0.05


def test_shapes_colours_and_fills_are_independent_of_the_class():
    shapes = data.make_shapes(1200, image_size=32, seed=4)
    counts = np.zeros((len(data.SHAPE_CLASSES), len(data.COLOR_NAMES)))
    np.add.at(counts, (shapes.classes[:, 0], shapes.colors[:, 0]), 1)
    assert (counts > 0).all(), "every colour appears in every class"
    share = counts / counts.sum(axis=1, keepdims=True)
    assert np.abs(share - 1 / len(data.COLOR_NAMES)).max() < 0.08
    fills = np.zeros((len(data.SHAPE_CLASSES), len(data.FILL_NAMES)))
    np.add.at(fills, (shapes.classes[:, 0], shapes.fills[:, 0]), 1)
    assert (fills > 0).all()


def test_circles_and_squares_are_true_circles_and_squares():
    shapes = data.make_shapes(200, image_size=64, seed=6)
    width = shapes.boxes[:, 0, 2] - shapes.boxes[:, 0, 0]
    height = shapes.boxes[:, 0, 3] - shapes.boxes[:, 0, 1]
    assert np.all(np.abs(width - height) <= 1.0)
    for mask, box in zip(shapes.masks[shapes.classes[:, 0] == 1], shapes.boxes[shapes.classes[:, 0] == 1, 0]):
        x1, y1, x2, y2 = box.astype(int)
        inside = mask[y1:y2, x1:x2] > 0
        assert inside[[0, -1]].all() and inside[:, [0, -1]].all()  # a square's outline runs along its box
        assert not inside[inside.shape[0] // 2, inside.shape[1] // 2]  # and leaves its middle empty


def test_outlines_keep_the_shape_whole_and_the_box_exact():
    # Every object is an outline at least one pixel thick, around the solid shape's tight box.
    for size, size_range in ((64, (0.15, 0.45)), (32, (0.3, 0.6)), (24, (0.5, 0.8))):
        shapes = data.make_shapes(100, image_size=size, size_range=size_range, seed=8)
        for mask, box in zip(shapes.masks, shapes.boxes[:, 0]):
            x1, y1, x2, y2 = box.astype(int)
            inside = mask[y1:y2, x1:x2] > 0
            assert inside[0].any() and inside[-1].any() and inside[:, 0].any() and inside[:, -1].any()
            assert inside.sum() <= 0.47 * inside.size  # never a solid square or circle


def test_instance_masks_number_the_objects():
    shapes = data.make_shapes(20, image_size=64, min_objects=2, max_objects=3, seed=1)
    for inst, mask, classes in zip(shapes.instances, shapes.masks, shapes.classes):
        for j, cls in enumerate(classes):
            if cls >= 0:
                assert np.all(mask[inst == j + 1] == cls + 1)
        assert np.array_equal(inst > 0, mask > 0)


def test_a_small_cnn_learns_the_shapes_from_the_outline():
    # The shortcut is gone but the task is learnable: a tiny CNN, 6 epochs on 1,200
    # images, reaches >= 0.8 held-out accuracy (measured 0.9+); chance is 0.25.
    import keras

    keras.utils.set_random_seed(0)
    shapes = data.make_shapes(1500, image_size=32, size_range=(0.35, 0.8), seed=2)
    x, y = shapes.images, shapes.classes[:, 0]
    model = keras.Sequential([
        keras.Input((32, 32, 3)),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
        keras.layers.GlobalMaxPooling2D(),
        keras.layers.Dense(4, activation="softmax"),
    ])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[:1200], y[:1200], epochs=6, batch_size=32, verbose=0)
    accuracy = model.evaluate(x[1200:], y[1200:], verbose=0)[1]
    assert accuracy >= 0.8, accuracy


# --------------------------------------------------------------------- what data mean
def _instance_check(shape_names, objects, size):
    """Chapter 06's section-9 check (cell 45), as the chapter calls it."""
    data.expect_dataset("instance masks (chapter 06, section 9)", class_names=shape_names,
                        labels=objects.classes, boxes=objects.boxes, box_format="xyxy", image_size=size)


def test_chapter_06_class_name_bug_fails_the_check():
    from homl_cv import instances, segmentation as seg

    shapes = data.make_shapes(6, 64, min_objects=2, max_objects=3, size_range=(0.2, 0.5), seed=6)
    objects = instances.instance_set(shapes)
    assert set(objects.classes) == {0, 1, 2, 3}  # all four shapes occur, so a 2-name list must fail
    _instance_check(list(shapes.class_names), objects, 64)  # the fix: the instance data's own names
    pets = seg.SegmentationSplits(None, None, None, class_names=datasets.get("oxford_iiit_pet").class_names, image_size=128,
                                  source="tfds oxford_iiit_pet")  # full mode's splits: Pets metadata
    with pytest.raises(data.DataMismatch, match=r"label 3 has no name among the 2 class names \('pet', 'border'\)"):
        _instance_check(list(pets.class_names[1:]), objects, 64)  # the bug, re-introduced


def test_expect_dataset_class_names_and_counts():
    data.expect_dataset("x", class_names=FLOWER_CLASSES, expected_class_names=FLOWER_CLASSES,
                        num_classes=5)
    with pytest.raises(data.DataMismatch, match="differ from the dataset's"):
        data.expect_dataset("x", class_names=FLOWER_CLASSES[::-1], expected_class_names=FLOWER_CLASSES)
    with pytest.raises(data.DataMismatch, match="5 class names .* for 4 classes"):
        data.expect_dataset("x", class_names=FLOWER_CLASSES, num_classes=4)


def test_expect_dataset_label_range_is_exact_at_both_ends():
    data.expect_dataset("x", num_classes=3, labels=np.array([[0, 2], [1, 1]]))  # batch of labels, ends included
    with pytest.raises(data.DataMismatch, match="label 3 has no name among 3 classes"):
        data.expect_dataset("x", num_classes=3, labels=np.array([0, 3]))
    with pytest.raises(data.DataMismatch, match="label -1"):
        data.expect_dataset("x", num_classes=3, labels=np.array([-1, 2]))
    data.expect_dataset("x", num_classes=3, labels=np.array([], int))


def test_expect_dataset_masks_images_and_boxes():
    data.expect_dataset("x", masks=np.array([[0, 1], [2, 2]]), mask_values=range(3))
    with pytest.raises(data.DataMismatch, match=r"mask values \[3\] outside \[0, 1, 2\]"):
        data.expect_dataset("x", masks=np.array([[0, 3], [1, 2]]), mask_values=range(3))  # a raw trimap's 3
    data.expect_dataset("x", images=np.zeros((2, 32, 48, 3)), image_shape=(None, None, 3))
    with pytest.raises(data.DataMismatch, match=r"images of shape \(32, 48, 3\), expected \(32, 32, 3\)"):
        data.expect_dataset("x", images=np.zeros((2, 32, 48, 3)), image_shape=(32, 32, 3))
    data.expect_dataset("x", boxes=np.array([[0, 0, 64, 32]]), box_format="xyxy", image_size=(32, 64))
    with pytest.raises(data.DataMismatch, match="not in 'xyxy' order"):
        data.expect_dataset("x", boxes=np.array([[0, 10, 20, 5]]), box_format="xyxy")  # yxyx read as xyxy
    with pytest.raises(data.DataMismatch, match="outside the 32x64 image"):
        data.expect_dataset("x", boxes=np.array([[0, 0, 64, 33]]), box_format="xyxy", image_size=(32, 64))
    with pytest.raises(ValueError, match="box_format='yxyx'"):
        data.expect_dataset("x", boxes=np.zeros((1, 4)), box_format="yxyx")


def test_region_masks_fill_the_outline_and_change_nothing_else():
    painted = data.make_shapes(40, image_size=48, max_objects=2, seed=5)
    region = data.make_shapes(40, image_size=48, max_objects=2, seed=5, region_masks=True)
    assert np.array_equal(painted.images, region.images) and np.array_equal(painted.boxes, region.boxes)
    assert np.array_equal(painted.classes, region.classes)
    assert ((region.masks > 0) >= (painted.masks > 0)).all()  # the region holds the outline
    assert (region.masks > 0).sum() > 1.5 * (painted.masks > 0).sum()
    lone = region.classes[:, 1] < 0
    squares = lone & (region.classes[:, 0] == 1)
    for mask, box in zip(region.masks[squares], region.boxes[squares, 0]):  # a lone square fills its box
        x1, y1, x2, y2 = box.astype(int)
        assert (mask[y1:y2, x1:x2] == 2).all() and (mask > 0).sum() == (x2 - x1) * (y2 - y1)
    with pytest.raises(ValueError, match="region_masks"):
        data.make_shapes(2, region_masks="yes")


def test_box_crop_colour_histograms_do_not_give_the_class_away():
    # The colour histogram of a shape's box crop mixes stroke and background in a share that,
    # for solid shapes, depends on the class (a forest on it scored 0.76 on solid shapes).
    # On the outlines it is at chance: measured 0.30 (800 images, 5 folds).
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import cross_val_score

    shapes = data.make_shapes(800, image_size=64, seed=3)
    features = []
    for image, (x1, y1, x2, y2) in zip(shapes.images, shapes.boxes[:, 0].astype(int)):
        crop = image[y1:y2, x1:x2].reshape(-1, 3)
        features.append(np.concatenate([np.histogram(crop[:, c], bins=8, range=(0, 1))[0] for c in range(3)])
                        / len(crop))
    forest = RandomForestClassifier(200, random_state=0)
    assert cross_val_score(forest, np.array(features), shapes.classes[:, 0], cv=5).mean() <= 0.4
