"""homl_cv.pretrained: the shipped ImageNet class index, bases, weights handling."""

import hashlib
from importlib import resources

import numpy as np
import pytest

from homl_cv import pretrained


def test_class_index_is_keras_file_byte_for_byte():
    raw = resources.files("homl_cv").joinpath("resources", pretrained.CLASS_INDEX_FILE).read_bytes()
    # the hash keras.applications checks its own download of this file against
    from keras.src.applications import imagenet_utils

    source = open(imagenet_utils.__file__, encoding="utf-8").read()
    assert pretrained.CLASS_INDEX_MD5 in source
    assert hashlib.md5(raw).hexdigest() == pretrained.CLASS_INDEX_MD5


def test_class_index_known_entries():
    index = pretrained.imagenet_class_index()
    assert sorted(index) == list(range(1000))
    assert index[0] == ("n01440764", "tench")
    assert index[1] == ("n01443537", "goldfish")
    assert index[207] == ("n02099601", "golden_retriever")
    assert index[281] == ("n02123045", "tabby")
    assert index[985] == ("n11939491", "daisy")
    assert index[999] == ("n15075141", "toilet_tissue")
    assert len({wnid for wnid, _ in index.values()}) == 1000
    # the WordNet ids are those of tensorflow_datasets' imagenet2012 labels, in order
    import tensorflow_datasets as tfds

    labels = resources.files(tfds).joinpath("datasets", "imagenet2012", "labels.txt")
    assert labels.read_text().split() == [index[i][0] for i in range(1000)]


def test_decode_predictions_matches_keras(monkeypatch):
    from keras.src.applications import imagenet_utils

    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX", {
        str(k): list(v) for k, v in pretrained.imagenet_class_index().items()
    })
    preds = np.random.default_rng(0).dirichlet(np.ones(1000), size=3).astype("float32")
    preds[0, 207] = 0.9
    ours = pretrained.decode_imagenet_predictions(preds, top=4)
    theirs = imagenet_utils.decode_predictions(preds, top=4)
    assert [[r[:2] for r in row] for row in ours] == [[r[:2] for r in row] for row in theirs]
    assert ours[0][0][:2] == ("n02099601", "golden_retriever")
    np.testing.assert_allclose([r[2] for r in ours[1]], [r[2] for r in theirs[1]])


def test_decode_predictions_bad_shape():
    with pytest.raises(ValueError, match="include_top=True"):
        pretrained.decode_imagenet_predictions(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="top=0"):
        pretrained.decode_imagenet_predictions(np.zeros((1, 1000)), top=0)
    with pytest.raises(ValueError, match="index=1000"):
        pretrained.imagenet_class_name(1000)


def test_unknown_base_and_bad_sizes():
    with pytest.raises(ValueError, match="name='VGG99'"):
        pretrained.base_spec("VGG99")
    with pytest.raises(ValueError, match=r"input_size=\d+ must be an integer of at least \d+ \(the smallest image side Xception takes\)"):
        pretrained.build_base("Xception", weights=None, input_size=64)
    with pytest.raises(ValueError, match="include_top=True"):
        pretrained.build_base("ResNet50", include_top=True, weights=None, input_size=96)


def test_offline_without_cache_falls_back_loudly(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("HOML_CV_OFFLINE", "1")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert pretrained.resolve_weights("Xception") is None
    assert "RANDOM weights" in capsys.readouterr().out
    with pytest.raises(FileNotFoundError, match="weights=None"):
        pretrained.resolve_weights("Xception", weights="imagenet")
    # the message names the file Keras would load: MobileNetV2 has no 64-px weights, it takes 224's
    with pytest.raises(FileNotFoundError, match=r"kernels_1\.0_224_no_top\.h5 there"):
        pretrained.resolve_weights("MobileNetV2", weights="imagenet", input_size=64)
    # a user with the weights in Keras' cache gets them offline
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "xception_weights_tf_dim_ordering_tf_kernels_notop.h5").touch()
    assert pretrained.resolve_weights("Xception") == "imagenet"
    # online: ImageNet weights (downloaded by Keras)
    monkeypatch.setenv("HOML_CV_OFFLINE", "0")
    assert pretrained.resolve_weights("ResNet50", include_top=True) == "imagenet"


def test_top_k_predictions_machinery():
    base = pretrained.build_base("MobileNetV2", include_top=True, weights=None)
    assert not base.pretrained and base.input_size == 224
    photos = np.random.default_rng(0).integers(0, 256, (2, 150, 200, 3)).astype("uint8")
    top = pretrained.top_k_predictions(base, photos, top=3)
    assert len(top) == 2 and all(len(row) == 3 for row in top)
    names = {name for _, name in pretrained.imagenet_class_index().values()}
    assert all(name in names for row in top for name, _ in row)
    assert all(row[0][1] >= row[1][1] >= row[2][1] for row in top)
    with pytest.raises(ValueError, match="images \\* 255"):
        base.prepare(photos / 255.0)


def test_prepare_images_matches_preprocess_input():
    spec = pretrained.base_spec("Xception")
    images = np.full((1, 40, 60, 3), 255, np.uint8)
    out = pretrained.prepare_images(images, 71, spec.preprocess_input)
    assert out.shape == (1, 71, 71, 3)
    np.testing.assert_allclose(out, 1.0, atol=1e-5)  # Xception maps 255 to +1
