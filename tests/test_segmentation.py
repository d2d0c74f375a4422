"""Chapter 06: transposed convolution, un-pooling, FCN / U-Net, segmentation metrics."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from homl_cv import data, segmentation as seg, sources, training


# ------------------------------------------------------------------ transposed convolution
def test_worked_example_stride2_on_2x2():
    x = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 2, 1)
    kernel = np.ones((3, 3, 1, 1))
    expected = np.array([[1, 1, 3, 2, 2],
                         [1, 1, 3, 2, 2],
                         [4, 4, 10, 6, 6],
                         [3, 3, 7, 4, 4],
                         [3, 3, 7, 4, 4]], dtype=np.float64)
    np.testing.assert_allclose(seg.conv_transpose_scatter(x, kernel, strides=2)[0, :, :, 0], expected)
    np.testing.assert_allclose(seg.conv_transpose_zero_insertion(x, kernel, strides=2)[0, :, :, 0], expected)
    layer = keras.layers.Conv2DTranspose(1, 3, strides=2, use_bias=False, kernel_initializer="ones")
    np.testing.assert_allclose(np.asarray(layer(x.astype("float32")))[0, :, :, 0], expected)


def test_insert_zeros():
    x = np.arange(1, 5, dtype=np.float32).reshape(1, 2, 2, 1)
    np.testing.assert_array_equal(seg.insert_zeros(x, 2)[0, :, :, 0],
                                  [[1, 0, 2], [0, 0, 0], [3, 0, 4]])


def test_both_teaching_versions_match_keras_over_a_grid():
    """Sizes, kernels, strides, paddings and output paddings; values to 1e-5 and shapes."""
    rng = np.random.default_rng(0)
    checked, refused = 0, set()
    for n, k, s, padding in itertools.product((1, 2, 5), (1, 2, 3, 4), (1, 2, 3), ("valid", "same")):
        for output_padding in (None, *range(s)):
            x = rng.normal(size=(2, n, n + 1, 3)).astype("float32")
            layer = keras.layers.Conv2DTranspose(2, k, strides=s, padding=padding,
                                                 output_padding=output_padding)
            try:
                expected = np.asarray(layer(x)) - np.asarray(layer.bias)
            except (tf.errors.InvalidArgumentError, tf.errors.AbortedError):  # AbortedError: oneDNN's way
                refused.add((k % 2, padding, output_padding))
                continue
            kernel = np.asarray(layer.kernel)
            for teach in (seg.conv_transpose_scatter, seg.conv_transpose_zero_insertion):
                got = teach(x, kernel, s, padding, output_padding)
                assert got.shape == expected.shape, (teach.__name__, n, k, s, padding, output_padding)
                np.testing.assert_allclose(got, expected, atol=1e-5)
            sizes = [seg.conv_transpose_output_size(side, k, s, padding, output_padding) for side in (n, n + 1)]
            assert sizes == list(expected.shape[1:3])
            checked += 1
    assert checked >= 100
    # TensorFlow refuses exactly one case: "same", an even kernel and output_padding=0.
    assert refused == {(0, "same", 0)}


@pytest.mark.parametrize(
    "n, k, s, padding, output_padding, expected",
    [(2, 3, 2, "valid", None, 5), (2, 2, 2, "valid", None, 4), (4, 1, 2, "valid", None, 8),
     (4, 3, 2, "same", None, 8), (4, 3, 2, "same", 0, 7), (4, 3, 2, "same", 1, 8),
     (7, 4, 3, "valid", 2, 24), (7, 5, 2, "same", 1, 14)],
)
def test_output_size_formula(n, k, s, padding, output_padding, expected):
    assert seg.conv_transpose_output_size(n, k, s, padding, output_padding) == expected
    layer = keras.layers.Conv2DTranspose(1, k, strides=s, padding=padding, output_padding=output_padding)
    assert layer.compute_output_shape((None, n, n, 1))[1] == expected


def test_output_size_bad_input():
    with pytest.raises(ValueError, match=r"output_padding=2 must be an integer from 0 to 1 \(less than strides=2\)"):
        seg.conv_transpose_output_size(4, 3, 2, output_padding=2)
    with pytest.raises(ValueError, match="padding='full'"):
        seg.conv_transpose_output_size(4, 3, 2, padding="full")
    with pytest.raises(ValueError, match="kernel_size=0"):
        seg.conv_transpose_output_size(4, 0)
    with pytest.raises(ValueError, match="kernel must have shape"):
        seg.conv_transpose_scatter(np.zeros((1, 2, 2, 3)), np.zeros((3, 3, 1, 2)))


def test_bilinear_transposed_conv_equals_bilinear_resize_inside():
    x = np.random.default_rng(1).random((1, 6, 6, 2)).astype("float32")
    up = keras.layers.Conv2DTranspose(2, 4, strides=2, padding="same", use_bias=False,
                                      kernel_initializer=seg.BilinearInitializer())
    got = np.asarray(up(x))
    resized = tf.image.resize(x, (12, 12), method="bilinear").numpy()
    np.testing.assert_allclose(got[:, 1:-1, 1:-1], resized[:, 1:-1, 1:-1], atol=1e-5)
    with pytest.raises(ValueError, match="square kernel"):
        seg.BilinearInitializer()((4, 4, 2, 3))


# ------------------------------------------------------------------ un-pooling
def test_unpooling_hand_example():
    x = np.array([[1, 5, 2, 0],
                  [3, 2, 8, 1],
                  [0, 1, 4, 4],
                  [9, 2, 3, 7]], np.float32).reshape(1, 4, 4, 1)
    pooled, argmax = seg.MaxPoolingWithArgmax2D(2)(x)
    np.testing.assert_array_equal(np.asarray(pooled)[0, :, :, 0], [[5, 8], [9, 7]])
    np.testing.assert_array_equal(np.asarray(argmax)[0, :, :, 0], [[1, 6], [12, 15]])
    restored = np.asarray(seg.MaxUnpooling2D(2)([pooled, argmax]))[0, :, :, 0]
    np.testing.assert_array_equal(restored, [[0, 5, 0, 0],
                                             [0, 0, 8, 0],
                                             [0, 0, 0, 0],
                                             [9, 0, 0, 7]])
    np.testing.assert_array_equal(np.asarray(pooled), np.asarray(keras.layers.MaxPooling2D(2)(x)))


def test_unpooling_batches_channels_and_keras_round_trip(tmp_path):
    inputs = keras.Input((8, 8, 3))
    pooled, argmax = seg.MaxPoolingWithArgmax2D(2, name="pool")(inputs)
    outputs = seg.MaxUnpooling2D(2, name="unpool")([pooled * 2.0, argmax])
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(2).random((3, 8, 8, 3)).astype("float32")
    y = np.asarray(model(x))
    # every 2x2 window keeps twice its maximum at the maximum's place, zeros elsewhere
    windows = x.reshape(3, 4, 2, 4, 2, 3)
    out_windows = y.reshape(3, 4, 2, 4, 2, 3)
    np.testing.assert_allclose(out_windows.max(axis=(2, 4)), 2 * windows.max(axis=(2, 4)), rtol=1e-6)
    assert ((out_windows > 0).sum(axis=(2, 4)) == 1).all()
    path = tmp_path / "unpool.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.get_layer("unpool"), seg.MaxUnpooling2D)
    np.testing.assert_allclose(np.asarray(loaded(x)), y)


# ------------------------------------------------------------------ models
@pytest.mark.parametrize("variant", ["32s", "16s", "8s"])
def test_fcn_shapes_and_stride_check(variant):
    for size in ((64, 96, 3), (32, 32, 1)):
        model = seg.build_fcn(4, size, variant=variant)
        assert model.output_shape == (None, size[0], size[1], 4)
    with pytest.raises(ValueError, match="width must be a positive multiple of 32"):
        seg.build_fcn(4, (64, 48, 3), variant=variant)


def test_fcn_variants_differ_by_skips_and_bad_variant():
    names = {v: {layer.name for layer in seg.build_fcn(3, variant=v).layers} for v in ("32s", "16s", "8s")}
    assert "fuse_pool4" not in names["32s"] and "fuse_pool4" in names["16s"]
    assert "fuse_pool3" in names["8s"] and "fuse_pool3" not in names["16s"]
    with pytest.raises(ValueError, match="variant='4s'"):
        seg.build_fcn(3, variant="4s")


def test_unet_shapes_and_stride_check(tmp_path):
    model = seg.build_unet(3, (48, 32, 3), filters=(8, 16, 32, 64, 128)[:4])
    assert model.output_shape == (None, 48, 32, 3)
    with pytest.raises(ValueError, match="height must be a positive multiple of 8"):
        seg.build_unet(3, (44, 32, 3), filters=(8, 16, 32, 64))
    assert seg.build_unet(3, (44, 32, 3), filters=(8, 16, 32)).output_shape == (None, 44, 32, 3)
    with pytest.raises(ValueError, match=r"len\(filters\)=1 must be an integer of at least 2 \(U-Net levels"):
        seg.build_unet(3, filters=(8,))



def test_unet_encoder_is_the_unets_own_contracting_path():
    encoder = seg.build_unet_encoder((32, 16, 3), filters=(4, 8, 16))
    assert [shape[1:] for shape in encoder.output_shape] == [(32, 16, 4), (16, 8, 8), (8, 4, 16)]
    # the same layers, and as many weights, as the encoder half of a scratch U-Net
    scratch = seg.build_unet(2, (32, 16, 3), filters=(4, 8, 16))
    down = [layer for layer in scratch.layers if layer.name.startswith(("down", "bottom"))]
    assert [layer.name for layer in encoder.layers if layer.weights] == [layer.name for layer in down if layer.weights]
    assert encoder.count_params() == sum(layer.count_params() for layer in down)
    # a U-Net on it has the scratch U-Net's size and shares (not copies) the encoder's weights
    unet = seg.build_unet(2, encoder=encoder)
    assert unet.count_params() == scratch.count_params() and unet.output_shape == (None, 32, 16, 2)
    assert seg.build_unet(2, (32, 16, 3), (4, 8, 16), encoder=encoder).count_params() == unet.count_params()
    images = np.random.default_rng(0).random((2, 32, 16, 3)).astype("float32")
    before = unet.predict(images, verbose=0)
    kernel = encoder.get_layer("bottom_conv2").kernel
    kernel.assign(kernel.numpy() * 0.0)
    assert not np.allclose(unet.predict(images, verbose=0), before)
    # frozen encoder: only the decoder trains
    encoder_trainable = len(encoder.trainable_weights)            # kernels, BN scales and offsets: 6 + 12
    encoder.trainable = False
    assert encoder_trainable == 18 and len(unet.trainable_weights) == len(scratch.trainable_weights) - 18


def test_unet_on_an_encoder_rejects_what_does_not_fit():
    encoder = seg.build_unet_encoder((32, 32, 3), filters=(4, 8, 16))
    with pytest.raises(ValueError, match=r"^filters=\(4, 8\), but the encoder 'unet_encoder' has filters=\(4, 8, 16\); "
                                         r"leave filters out"):
        seg.build_unet(2, filters=(4, 8), encoder=encoder)
    with pytest.raises(ValueError, match=r"^input_shape=\(64, 64, 3\), but the encoder 'unet_encoder' has "
                                         r"input_shape=\(32, 32, 3\)"):
        seg.build_unet(2, input_shape=(64, 64, 3), encoder=encoder)
    plain = seg.build_fcn(2, (32, 32, 3), variant="32s")
    with pytest.raises(ValueError, match=r"^encoder='fcn_32s' must be a model from build_unet_encoder"):
        seg.build_unet(2, encoder=plain)
    with pytest.raises(ValueError, match=r"^encoder='str' must be a model from build_unet_encoder"):
        seg.build_unet(2, encoder="resnet")
    images = keras.Input((None, None, 3))
    features = keras.layers.Conv2D(4, 3, padding="same")(images)
    any_size = keras.Model(images, [features, keras.layers.MaxPooling2D()(features)], name="any_size")
    with pytest.raises(ValueError, match=r"^encoder='any_size' must be a model from build_unet_encoder"):
        seg.build_unet(2, encoder=any_size)
    with pytest.raises(ValueError, match=r"len\(filters\)=1 must be an integer of at least 2"):
        seg.build_unet_encoder(filters=(8,))
    with pytest.raises(ValueError, match="height must be a positive multiple of 4"):
        seg.build_unet_encoder((30, 32, 3), filters=(4, 8, 16))

# ------------------------------------------------------------------ metrics and losses
Y_TRUE = np.array([[0, 0, 1, 1],
                   [0, 0, 1, 1],
                   [2, 2, 0, 0]])
Y_PRED = np.array([[0, 1, 1, 1],
                   [0, 0, 1, 0],
                   [2, 0, 0, 0]])


def test_iou_and_dice_by_hand():
    # class 0: true 6 px, predicted 7 px, both 5  -> IoU 5/8, Dice 10/13
    # class 1: true 4, predicted 4, both 3        -> IoU 3/5, Dice 6/8
    # class 2: true 2, predicted 1, both 1        -> IoU 1/2, Dice 2/3
    np.testing.assert_allclose(seg.iou_per_class(Y_TRUE, Y_PRED, 3), [5 / 8, 3 / 5, 1 / 2])
    np.testing.assert_allclose(seg.dice_per_class(Y_TRUE, Y_PRED, 3), [10 / 13, 6 / 8, 2 / 3])
    assert seg.mean_iou(Y_TRUE, Y_PRED, 3) == pytest.approx((5 / 8 + 3 / 5 + 1 / 2) / 3)
    iou = seg.iou_per_class(Y_TRUE, Y_PRED, 3)
    np.testing.assert_allclose(seg.dice_per_class(Y_TRUE, Y_PRED, 3), 2 * iou / (1 + iou))
    assert np.isnan(seg.iou_per_class(Y_TRUE, Y_PRED, 4)[3])  # absent class: NaN, not 0


def test_mean_iou_matches_keras_on_logits():
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, 4, (2, 8, 8))
    logits = rng.normal(size=(2, 8, 8, 5)).astype("float32")  # class 4 is never true
    metric = keras.metrics.MeanIoU(num_classes=5, sparse_y_pred=False)
    metric.update_state(y_true, logits)
    ours = seg.mean_iou(y_true, logits.argmax(-1), 5)
    assert ours == pytest.approx(float(metric.result()), abs=1e-6)


def test_mean_iou_with_absent_classes_matches_keras():
    # class 3 is in neither mask (union 0): left out of the mean, as in keras.metrics.MeanIoU;
    # class 2 is only predicted (union 1, intersection 0): it counts, with IoU 0
    y_true = np.array([[0, 0, 1, 1], [0, 1, 1, 1]])
    y_pred = np.array([[0, 1, 1, 1], [0, 1, 1, 2]])
    per_class = seg.iou_per_class(y_true, y_pred, 4)
    np.testing.assert_allclose(per_class[:3], [2 / 3, 4 / 6, 0.0])   # class 1: 4 shared of 6
    assert np.isnan(per_class[3])
    ours = seg.mean_iou(y_true, y_pred, 4)
    assert ours == pytest.approx((2 / 3 + 4 / 6 + 0.0) / 3)   # not / 4 (absent as 0) nor / 2 (IoU-0 class dropped)
    metric = keras.metrics.MeanIoU(num_classes=4)
    metric.update_state(y_true.ravel(), y_pred.ravel())
    assert ours == pytest.approx(float(metric.result()), abs=1e-6)


def test_dice_loss_by_hand_and_serializable():
    y_true = np.array([[[0, 1], [1, 1]]])
    probs = np.array([[[[0.8, 0.2], [0.4, 0.6]], [[0.1, 0.9], [0.5, 0.5]]]], np.float32)
    # class 0: sum p*y = 0.8, sum p = 1.8, sum y = 1; class 1: 0.6+0.9+0.5 = 2.0, 2.2, 3
    dice0, dice1 = (2 * 0.8 + 1) / (1.8 + 1 + 1), (2 * 2.0 + 1) / (2.2 + 3 + 1)
    loss = seg.DiceLoss(smooth=1.0)
    assert float(loss(y_true, probs)) == pytest.approx(1 - (dice0 + dice1) / 2, rel=1e-5)
    logits = np.log(probs)
    assert float(seg.DiceLoss(from_logits=True)(y_true, logits)) == pytest.approx(float(loss(y_true, probs)), rel=1e-5)
    restored = keras.losses.deserialize(keras.losses.serialize(
        seg.DiceLoss(from_logits=True, smooth=0.5, cross_entropy=2.0)))
    assert isinstance(restored, seg.DiceLoss) and restored.from_logits and restored.smooth == 0.5
    assert restored.cross_entropy == 2.0


def test_batch_dice_sums_the_pixels_of_every_image_before_dividing():
    # two 1x2 images, 2 classes; class 1 is absent from the first image
    y_true = np.array([[[0, 0]], [[0, 1]]])
    probs = np.array([[[[0.9, 0.1], [0.7, 0.3]]], [[[0.6, 0.4], [0.2, 0.8]]]], np.float32)
    p1, y1 = probs[..., 1], y_true == 1
    p0, y0 = probs[..., 0], y_true == 0

    def dice(p, y, axes):
        return (2 * (p * y).sum(axes) + 1) / (p.sum(axes) + y.sum(axes) + 1)

    per_image = 1 - (dice(p0, y0, (1, 2)) + dice(p1, y1, (1, 2))) / 2          # (2,) one per image
    batch = 1 - (dice(p0, y0, None) + dice(p1, y1, None)) / 2                   # one number
    assert float(seg.DiceLoss()(y_true, probs)) == pytest.approx(per_image.mean(), rel=1e-5)
    assert float(seg.DiceLoss(per_image=False)(y_true, probs)) == pytest.approx(batch, rel=1e-5)
    assert batch != pytest.approx(per_image.mean(), abs=0.01)   # they differ here (by 0.023)
    # per example, batch Dice gives every example the batch's value (plus its own cross-entropy)
    per_example = seg.DiceLoss(per_image=False, reduction=None)(y_true, probs)
    np.testing.assert_allclose(np.asarray(per_example), [batch, batch], rtol=1e-5)
    ce = -np.log(np.where(y_true == 1, p1, p0)).mean(axis=(1, 2))
    with_ce = seg.DiceLoss(per_image=False, cross_entropy=1.0, reduction=None)(y_true, probs)
    np.testing.assert_allclose(np.asarray(with_ce), batch + ce, rtol=1e-5)
    restored = keras.losses.deserialize(keras.losses.serialize(seg.DiceLoss(per_image=False)))
    assert restored.per_image is False
    with pytest.raises(ValueError, match=r"per_image='batch' must be True or False"):
        seg.DiceLoss(per_image="batch")


def test_dice_plus_cross_entropy_adds_the_pixel_mean_log_loss():
    y_true = np.array([[[0, 1], [1, 1]]])
    probs = np.array([[[[0.8, 0.2], [0.4, 0.6]], [[0.1, 0.9], [0.5, 0.5]]]], np.float32)
    ce = -np.mean(np.log([0.8, 0.6, 0.9, 0.5]))            # the true class's probability at each pixel
    dice_only = float(seg.DiceLoss()(y_true, probs))
    both = float(seg.DiceLoss(cross_entropy=0.5)(y_true, probs))
    assert both == pytest.approx(dice_only + 0.5 * ce, rel=1e-5)
    logits = np.log(probs)
    assert float(seg.DiceLoss(from_logits=True, cross_entropy=0.5)(y_true, logits)) == pytest.approx(both, rel=1e-5)


def test_boundary_mask_and_bad_labels():
    mask = np.zeros((6, 6), np.int32)
    mask[2:4, 2:4] = 1
    edges = seg.boundary_mask(mask, 1)
    assert edges.sum() == 16 - 0  # the 4x4 ring around and on the square's border
    assert not edges[0].any() and edges[1, 1] and edges[2, 2]
    with pytest.raises(ValueError, match=r"must hold integers \(class ids: use argmax on logits first\); got dtype float"):
        seg.iou_per_class(np.zeros((2, 2)), np.zeros((2, 2), np.float32), 2)
    with pytest.raises(ValueError, match="outside"):
        seg.iou_per_class(np.array([0, 3]), np.array([0, 1]), 3)


def test_offline_loader_uses_generated_shapes(capsys):
    splits = seg.load_segmentation_data(image_size=32, offline=True, num_shapes=20)
    assert "Offline" in capsys.readouterr().out
    assert splits.class_names == ("background",) + data.SHAPE_CLASSES
    image, mask = next(iter(splits.train))
    assert image.shape == (32, 32, 3) and mask.shape == (32, 32) and mask.dtype == tf.int32
    assert sum(int(ds.cardinality()) for ds in (splits.train, splits.valid, splits.test)) == 20


def test_online_loader_failure_is_a_download_error(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    def no_network(*args, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.setattr(tfds, "load", no_network)
    with pytest.raises(sources.DownloadError, match="oxford_iiit_pet"):
        seg.load_segmentation_data(offline=False, data_dir=tmp_path)


# ------------------------------------------------------------------ evaluation by hand
# The learning claims (mean IoU per model, FCN-8s over FCN-32s, boundaries) are checked in
# chapter 06 itself, by visible claim cells that nbval runs; these tests pin the arithmetic.
def test_evaluate_segmentation_on_a_4x4_case_by_hand():
    y_true = np.array([[[1, 1, 0, 0],
                        [1, 1, 0, 0],
                        [0, 0, 0, 0],
                        [0, 0, 0, 2]]])
    y_pred = np.array([[[1, 1, 0, 0],
                        [1, 0, 0, 0],
                        [0, 0, 0, 2],
                        [1, 0, 0, 2]]])
    scores = seg.evaluate_segmentation(y_true, y_pred, 3)
    # 13 of 16 pixels right: the errors are (1, 1) 1 -> 0, (2, 3) 0 -> 2 and (3, 0) 0 -> 1
    assert scores.pixel_accuracy == pytest.approx(13 / 16)
    # class 0: true 11, predicted 10, both 9 -> IoU 9/12, Dice 18/21; class 1: 4, 4, 3 -> 3/5, 6/8;
    # class 2: 1, 2, 1 -> 1/2, 2/3
    np.testing.assert_allclose(scores.class_iou, [9 / 12, 3 / 5, 1 / 2])
    assert scores.mean_iou == pytest.approx((9 / 12 + 3 / 5 + 1 / 2) / 3)
    assert scores.mean_dice == pytest.approx((18 / 21 + 6 / 8 + 2 / 3) / 3)
    # boundary pixels (width 1): another class somewhere in the 3x3 window, by an independent rule
    window = np.pad(y_true[0], 1, mode="edge")
    edges = np.array([[len(np.unique(window[r:r + 3, c:c + 3])) > 1 for c in range(4)] for r in range(4)])
    np.testing.assert_array_equal(seg.boundary_mask(y_true, 1)[0], edges)
    hits = (y_true[0] == y_pred[0])[edges]
    assert scores.boundary_accuracy == pytest.approx(hits.mean())
    # 11 boundary pixels: all but (0, 0) (its window is all 1s), (0, 3), (1, 3), (3, 0), (3, 1);
    # two errors lie on them, (3, 0) does not
    assert edges.sum() == 11 and not edges[0, 0] and not edges[3, 0] and edges[1, 1] and edges[2, 3]
    assert scores.boundary_accuracy == pytest.approx(9 / 11)


def test_pixel_accuracy_counts_background_pixels_too():
    y_true = np.zeros((1, 4, 4), np.int64)
    y_true[0, 0, 0] = 1
    everything_background = np.zeros_like(y_true)
    assert seg.evaluate_segmentation(y_true, everything_background, 2).pixel_accuracy == pytest.approx(15 / 16)


def test_train_segmentation_returns_the_trained_model_and_its_history():
    images = np.random.default_rng(0).random((8, 32, 32, 3)).astype(np.float32)
    masks = (images[..., 0] > 0.5).astype(np.int32)
    train = tf.data.Dataset.from_tensor_slices((images, masks))
    model = seg.build_unet(2, (32, 32, 3), filters=(4, 8))
    result = seg.train_segmentation(model, train, train, epochs=2, batch_size=4, verbose=0)
    assert isinstance(result, training.TrainedModel) and result.model is model
    assert len(result.history["mean_iou"]) == 2 and "val_loss" in result.history
    with pytest.raises(ValueError, match="non-empty dataset"):
        seg.train_segmentation(model, train.take(0), epochs=1)


def test_summary_names_the_numbers():
    text = seg.evaluate_segmentation(np.array([[[0, 1]]]), np.array([[[0, 1]]]), 2).summary(["bg", "obj"])
    assert "mean IoU 1.000" in text and "pixel accuracy 1.000" in text and "bg 1.00, obj 1.00" in text


def test_predict_masks_takes_the_argmax_per_pixel_in_batches():
    # a 1x1 convolution whose logits are (x channel 0, 0.5, x channel 1): class 0 where channel 0 > 0.5,
    # class 2 where channel 1 is the largest, class 1 otherwise
    inputs = keras.Input((3, 3, 2))
    conv = keras.layers.Conv2D(3, 1, use_bias=True)
    model = keras.Model(inputs, conv(inputs))
    conv.set_weights([np.array([[[[1, 0, 0], [0, 0, 1]]]], np.float32), np.array([0, 0.5, 0], np.float32)])
    images = np.zeros((5, 3, 3, 2), np.float32)
    images[:, 0, 0, 0] = 1.0           # class 0
    images[:, 1, 1, 1] = 2.0           # class 2
    masks = seg.predict_masks(model, images, batch_size=2)
    assert masks.shape == (5, 3, 3) and masks.dtype == np.int32
    expected = np.ones((3, 3), np.int32)
    expected[0, 0], expected[1, 1] = 0, 2
    np.testing.assert_array_equal(masks, np.broadcast_to(expected, (5, 3, 3)))


# ------------------------------------------------------------------ figures
def test_overlay_shows_class_colours_on_grey_with_outlines():
    from homl_cv import viz

    image = np.zeros((6, 6, 3), np.float32)
    image[..., 0] = 1.0                                  # a pure red image: its own colour must go
    mask = np.zeros((6, 6), np.int64)
    mask[1:5, 1:5] = 2                                   # class 2 (blue in the palette)
    out = viz.overlay_mask(image, mask)
    grey = 0.6 / 3
    np.testing.assert_allclose(out[0, 0], [grey] * 3, atol=1e-6)          # background: dimmed grey
    np.testing.assert_allclose(out[1, 1], [1, 1, 1])                      # the class border: white
    np.testing.assert_allclose(out[2, 2], 0.15 * grey + 0.85 * viz.SEGMENTATION_COLORS[2], atol=1e-6)
    assert not viz.overlay_mask(image, mask, contour=False)[1, 1].tolist() == [1, 1, 1]
    with pytest.raises(ValueError, match=r"mask must have shape \(6, 6\) \(the image's \(H, W\)\); got shape \(5, 5\)"):
        viz.overlay_mask(image, mask[:5, :5])


def test_architecture_diagrams_draw():
    import matplotlib

    matplotlib.use("Agg")
    from homl_cv import viz

    fig = viz.plot_fcn_skips(64)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0].startswith("FCN-32s: final upsampling x32") and "x16" in titles[1] and "x8" in titles[2]
    fig = viz.plot_unet((8, 16, 32, 64, 128), 64)
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert "64x64x8" in texts and "bottom 4x4x128" in texts and "32x32x32" in texts


# ------------------------------------------------------------------ mutation testing (issue 23)
# Cases for the mutants mutmut found alive (tests/mutmut_run.py segmentation).
def test_boundary_mask_width_is_the_chebyshev_distance_to_a_change():
    mask = np.zeros((9, 9), np.int64)
    mask[4, 4] = 1
    for width in (1, 2, 3):
        rows, cols = np.indices(mask.shape)
        near = np.maximum(abs(rows - 4), abs(cols - 4)) <= width    # the window reaches the odd pixel
        np.testing.assert_array_equal(seg.boundary_mask(mask, width), near)
    np.testing.assert_array_equal(seg.boundary_mask(mask), seg.boundary_mask(mask, 1))   # default width 1


def test_boundary_mask_keeps_the_images_of_a_batch_apart():
    masks = np.stack([np.zeros((4, 4), np.int64), np.ones((4, 4), np.int64)])   # no change inside either
    assert not seg.boundary_mask(masks, 1).any()
    masks[1, 0, 0] = 0
    edges = seg.boundary_mask(masks, 1)
    assert not edges[0].any() and edges[1].sum() == 4
    for width in (1, 2):                                     # a batch is its images one by one
        np.testing.assert_array_equal(seg.boundary_mask(masks, width),
                                      [seg.boundary_mask(m, width) for m in masks])
    assert seg.boundary_mask(masks, 2)[1].sum() == 9


def test_boundary_mask_messages_name_the_argument():
    with pytest.raises(ValueError, match=r"^masks must hold integers \(class ids"):
        seg.boundary_mask(np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"^masks must have shape \(H, W\) or \(N, H, W\); got shape \(3,\)"):
        seg.boundary_mask(np.zeros(3, np.int64))
    with pytest.raises(ValueError, match=r"^width=0 must be a positive integer"):
        seg.boundary_mask(np.zeros((3, 3), np.int64), 0)
    assert seg.boundary_mask(np.zeros((3, 3), np.int64), 1).shape == (3, 3)   # width 1 is allowed


def test_evaluate_segmentation_messages_and_boundary_width():
    with pytest.raises(ValueError, match=r"^y_true must hold integers \(class ids"):
        seg.evaluate_segmentation(np.zeros((1, 2, 2)), np.zeros((1, 2, 2), np.int64), 2)
    with pytest.raises(ValueError, match=r"^y_pred must hold integers \(class ids"):
        seg.evaluate_segmentation(np.zeros((1, 2, 2), np.int64), np.zeros((1, 2, 2)), 2)
    y_true = np.zeros((1, 7, 7), np.int64)
    y_true[0, 3, 3] = 1
    y_pred = np.zeros_like(y_true)
    y_pred[0, 0, 0] = 1                       # wrong at a corner: 3 pixels from the class change
    # width 1: 9 boundary pixels, 8 right (the object pixel is missed); width 3: all 49, 47 right
    assert seg.evaluate_segmentation(y_true, y_pred, 2).boundary_accuracy == pytest.approx(8 / 9)
    assert seg.evaluate_segmentation(y_true, y_pred, 2, boundary_width=3).boundary_accuracy == pytest.approx(47 / 49)


def test_evaluate_segmentation_without_boundaries_is_nan_without_a_warning():
    import warnings

    y = np.zeros((2, 3, 3), np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")        # no "mean of empty slice" on the way
        scores = seg.evaluate_segmentation(y, y, 2)
    assert np.isnan(scores.boundary_accuracy) and scores.pixel_accuracy == 1.0


def test_summary_numbers_the_classes_without_names():
    scores = seg.evaluate_segmentation(np.array([[[0, 1, 2]]]), np.array([[[0, 1, 1]]]), 3)
    assert "IoU per class: 0 1.00, 1 0.50, 2 0.00" in scores.summary()


@pytest.mark.parametrize("pool, strides, padding", [(2, None, "valid"), (3, 2, "valid"), (3, 2, "same"),
                                                     ((2, 3), (2, 3), "same"), (2, 3, "valid"),
                                                     ((3, 2), (1, 2), "valid")])
def test_pooling_and_unpooling_symbolic_shapes_match_the_computed_ones(pool, strides, padding):
    x = np.random.default_rng(4).random((2, 7, 9, 3)).astype("float32")
    layer = seg.MaxPoolingWithArgmax2D(pool, strides=strides, padding=padding)
    pooled, argmax = layer(x)
    spec_pooled, spec_argmax = layer(keras.Input((7, 9, 3)))
    assert tuple(spec_pooled.shape) == (None, *pooled.shape[1:]) == tuple(spec_argmax.shape)
    assert spec_argmax.dtype == "int64" and spec_pooled.dtype == "float32"
    unknown, _ = layer(keras.Input((None, None, 3)))                 # unknown sides stay unknown
    assert tuple(unknown.shape) == (None, None, None, 3)
    half = seg.MaxPoolingWithArgmax2D(pool, strides=strides, padding=padding, dtype="float16")
    half_pooled, half_argmax = half(keras.Input((7, 9, 3), dtype="float16"))
    assert half_pooled.dtype == "float16" and half_argmax.dtype == "int64"   # the values' dtype, int64 indices
    assert tuple(unknown.shape) == (None, None, None, 3)
    size = layer.strides
    unpool = seg.MaxUnpooling2D(size)
    spec = unpool([keras.Input(tuple(pooled.shape[1:])), keras.Input(tuple(argmax.shape[1:]), dtype="int64")])
    assert tuple(spec.shape) == (None, pooled.shape[1] * size[0], pooled.shape[2] * size[1], 3)
    unknown = unpool([keras.Input((None, 4, 3)), keras.Input((None, 4, 3), dtype="int64")])
    assert tuple(unknown.shape) == (None, None, 4 * size[1], 3)


def test_dice_counts_a_class_seen_once_as_zero_not_absent():
    import warnings

    y_true = np.array([[0, 0, 0]])
    y_pred = np.array([[0, 0, 1]])                         # class 1: one predicted pixel, total 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")                     # class 2 is absent: NaN, without a warning
        dice = seg.dice_per_class(y_true, y_pred, 3)
        iou = seg.iou_per_class(y_true, y_pred, 3)
    np.testing.assert_allclose(dice[:2], [2 * 2 / 5, 0.0])
    np.testing.assert_allclose(iou[:2], [2 / 3, 0.0])
    assert np.isnan(dice[2]) and np.isnan(iou[2])


@pytest.mark.parametrize("kernel, strides, padding, output_padding",
                         [((2, 3), (2, 3), "valid", None), ((3, 2), (3, 2), "same", None),
                          ((3, 5), (2, 3), "same", (1, 2)), ((4, 3), (3, 1), "valid", (2, 0))])
def test_transposed_conv_with_unequal_axes_matches_keras(kernel, strides, padding, output_padding):
    x = np.random.default_rng(8).normal(size=(2, 3, 4, 2)).astype("float32")
    layer = keras.layers.Conv2DTranspose(3, kernel, strides=strides, padding=padding,
                                         output_padding=output_padding, use_bias=False)
    expected = np.asarray(layer(x))
    for teach in (seg.conv_transpose_scatter, seg.conv_transpose_zero_insertion):
        got = teach(x, np.asarray(layer.kernel), strides, padding, output_padding)
        assert got.shape == expected.shape, teach.__name__
        np.testing.assert_allclose(got, expected, atol=1e-5)
    assert seg.insert_zeros(x, strides).shape == (2, 2 * strides[0] + 1, 3 * strides[1] + 1, 2)


def test_transposed_conv_messages_name_the_argument():
    with pytest.raises(ValueError, match=r"inputs must have shape \(batch, H, W, C_in\); got shape \(2, 2, 3\)"):
        seg.conv_transpose_scatter(np.zeros((2, 2, 3)), np.zeros((3, 3, 1, 3)))
    with pytest.raises(ValueError, match=r"^kernel must have shape \(kh, kw, C_out, 3\) \(as in "
                                         r"Conv2DTranspose.kernel: C_in=3 last\); got shape \(3, 3, 3\)"):
        seg.conv_transpose_zero_insertion(np.zeros((1, 2, 2, 3)), np.zeros((3, 3, 3)))
    with pytest.raises(ValueError, match=r"^output_padding=-1 must be an integer from 0 to 1 \(less than strides=2\)"):
        seg.conv_transpose_output_size(4, 3, 2, output_padding=-1)
    assert seg.conv_transpose_output_size(4, 3, 2, output_padding=0) == 9       # 0 is allowed
    assert seg.conv_transpose_output_size(4, 3) == 6                            # stride 1, "valid"
    for name, args in (("input_size", (0, 3)), ("strides", (4, 3, 0))):
        with pytest.raises(ValueError, match=f"^{name}=0 must be a positive integer"):
            seg.conv_transpose_output_size(*args)
    with pytest.raises(ValueError, match="^kernel_size=0 must be a positive integer"):
        seg.conv_transpose_output_size(4, 0)
    with pytest.raises(ValueError, match=r"inputs must have shape \(batch, H, W, C\); got shape \(2, 2\)"):
        seg.insert_zeros(np.zeros((2, 2)))
    assert seg.insert_zeros(np.ones((1, 2, 2, 1))).shape == (1, 3, 3, 1)        # default stride 2
    with pytest.raises(ValueError, match=r"^strides=0 must be a positive integer"):
        seg.insert_zeros(np.ones((1, 2, 2, 1)), 0)
    assert seg.insert_zeros(np.ones((1, 2, 2, 1), np.int32)).dtype == np.int32


def test_bilinear_kernel_by_hand():
    np.testing.assert_allclose(seg.bilinear_kernel(3)[:, :, 0, 0], np.outer([0.5, 1, 0.5], [0.5, 1, 0.5]))
    np.testing.assert_allclose(seg.bilinear_kernel(4)[:, :, 0, 0],
                               np.outer([0.25, 0.75, 0.75, 0.25], [0.25, 0.75, 0.75, 0.25]))
    np.testing.assert_allclose(seg.bilinear_kernel(1)[:, :, 0, 0], [[1.0]])
    assert seg.bilinear_kernel(3).shape == (3, 3, 1, 1)                  # one channel by default
    two = seg.bilinear_kernel(3, channels=2)
    assert two.shape == (3, 3, 2, 2) and two.dtype == np.float32
    np.testing.assert_array_equal(two[:, :, 0, 1], 0)                     # each channel on its own
    np.testing.assert_allclose(two[:, :, 1, 1], two[:, :, 0, 0])
    init = seg.BilinearInitializer()
    np.testing.assert_allclose(np.asarray(init((3, 3, 2, 2))), two)
    assert np.asarray(init((4, 4, 1, 1), dtype="float16")).dtype == np.float16
    assert init.get_config() == {}
    with pytest.raises(ValueError, match=r"as many input as output channels; got kernel shape \(4, 4, 2, 3\)"):
        init((4, 4, 2, 3))
    with pytest.raises(ValueError, match=r"^kernel_size=0 must be a positive integer"):
        seg.bilinear_kernel(0)


def test_unpooling_with_unequal_sizes_puts_values_back():
    x = np.random.default_rng(9).random((2, 4, 9, 2)).astype("float32")
    pooled, argmax = seg.MaxPoolingWithArgmax2D((2, 3))(x)
    restored = np.asarray(seg.MaxUnpooling2D((2, 3))([pooled, argmax]))
    assert restored.shape == (2, 4, 9, 2)
    windows = restored.reshape(2, 2, 2, 3, 3, 2)
    np.testing.assert_allclose(windows.max(axis=(2, 4)), x.reshape(2, 2, 2, 3, 3, 2).max(axis=(2, 4)))
    assert ((windows > 0).sum(axis=(2, 4)) == 1).all()


def test_predict_masks_checks_the_channels_and_runs_in_inference_mode():
    inputs = keras.Input((2, 2, 1))
    outputs = keras.layers.Dropout(0.9, seed=1)(keras.layers.Conv2D(2, 1, kernel_initializer="ones",
                                                                   bias_initializer=keras.initializers.Constant([0, 0.5]))(inputs))
    model = keras.Model(inputs, outputs)
    images = np.ones((3, 2, 2, 1), np.float32)            # logits (1, 1.5): class 1 unless dropout drops it
    np.testing.assert_array_equal(seg.predict_masks(model, images), np.ones((3, 2, 2), np.int32))
    with pytest.raises(ValueError, match=r"images has shape \(3, 2, 2, 3\): 3 channel\(s\), but 1 are expected"):
        seg.predict_masks(model, np.ones((3, 2, 2, 3), np.float32))   # 3 channels for a 1-channel model


@pytest.mark.parametrize("per_image, cross_entropy", [(True, 0.0), (False, 0.0), (False, 0.5)])
def test_dice_loss_takes_masks_with_a_channel_axis_and_classes_unlike_width(per_image, cross_entropy):
    rng = np.random.default_rng(10)
    for shape in [(2, 2, 5), (2, 1, 4)]:                  # 3 classes; width 5 or 4, and a height of 1
        y_true = rng.integers(0, 3, shape)
        probs = rng.dirichlet(np.ones(3), shape).astype(np.float32)
        loss = seg.DiceLoss(per_image=per_image, cross_entropy=cross_entropy, reduction=None)
        flat = np.asarray(loss(y_true, probs))
        assert flat.shape == (2,)                           # one loss per example, batch Dice too
        np.testing.assert_allclose(np.asarray(loss(y_true[..., None], probs)), flat, rtol=1e-6)
        # by hand: Dice per class over each image's pixels (or the batch's)
        onehot = np.eye(3)[y_true]
        axes = (1, 2) if per_image else (0, 1, 2)
        dice = (2 * (probs * onehot).sum(axes) + 1) / (probs.sum(axes) + onehot.sum(axes) + 1)
        expected = np.broadcast_to(1 - dice.mean(-1), (2,))
        ce = -np.log((probs * onehot).sum(-1)).mean(axis=(1, 2))
        np.testing.assert_allclose(flat, expected + cross_entropy * ce, rtol=1e-5)


def test_unpooling_symbolic_shape_and_dtype_come_from_the_values():
    unpool = seg.MaxUnpooling2D((2, 3), dtype="float16")
    spec = unpool([keras.Input((4, None, 3), dtype="float16"), keras.Input((4, None, 3), dtype="int64")])
    assert tuple(spec.shape) == (None, 8, None, 3) and spec.dtype == "float16"
    spec = seg.MaxUnpooling2D(2)([keras.Input((4, 5, 3)), keras.Input((4, 5, 3), dtype="int64")])
    assert spec.dtype == "float32"


def test_confusion_counts_messages_name_the_argument():
    def message(y_true, y_pred, num_classes=3):
        with pytest.raises(ValueError) as err:
            seg.confusion_counts(np.array(y_true), np.array(y_pred), num_classes)
        return str(err.value)

    assert message([0, 3], [0, 1]).startswith("y_true has class id 3 at index 1 (1 in all), outside [0, num_classes=3)")
    assert message([0, 1], [0, 3]).startswith("y_pred has class id 3 at index 1 (1 in all), outside [0, num_classes=3)")
    assert message([0.0, 1.0], [0, 1]).startswith("y_true must hold integers (class ids")
    assert message([0, 1], [0.0, 1.0]).startswith("y_pred must hold integers (class ids")
    assert message([0, 1], [0, 1, 1]) == "y_true (2,) and y_pred (3,) must have the same shape."
    assert message([0], [0], 0) == "num_classes=0 must be an integer of at least 1."
    np.testing.assert_array_equal(seg.confusion_counts(np.zeros((2, 2), int), np.zeros((2, 2), int), 1), [[4]])
    # rows are the true class, columns the predicted one
    np.testing.assert_array_equal(seg.confusion_counts(np.array([0, 1, 1]), np.array([1, 1, 0]), 2), [[0, 1], [1, 1]])


def test_transposed_conv_defaults_are_keras_defaults():
    x = np.random.default_rng(11).normal(size=(1, 3, 3, 2)).astype("float32")
    layer = keras.layers.Conv2DTranspose(2, 3, use_bias=False)       # strides 1, "valid"
    expected = np.asarray(layer(x))
    for teach in (seg.conv_transpose_scatter, seg.conv_transpose_zero_insertion):
        np.testing.assert_allclose(teach(x, np.asarray(layer.kernel)), expected, atol=1e-5)
