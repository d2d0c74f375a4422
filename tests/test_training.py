"""homl_cv.training: the flowers pipeline (03), two-phase transfer learning, the
digits transfer-vs-scratch claim, and the pieces the topic trainers share."""

import keras
import numpy as np
import pytest

from homl_cv import data, pretrained, training

SIZE = 64  # small images keep MobileNetV2 fast on a CPU


@pytest.fixture(scope="module")
def flowers():
    return data.load_flowers(offline=True)  # tfds mock data when nothing is prepared


@pytest.fixture(scope="module")
def pipes(flowers):
    return data.flowers_pipeline(flowers, "MobileNetV2", image_size=SIZE, batch_size=8)


def small_base():
    return pretrained.build_base("MobileNetV2", weights=None, input_size=SIZE).model


def test_pipeline_batches(pipes, flowers):
    images, labels = next(iter(pipes.train))
    assert images.shape == (8, SIZE, SIZE, 3) and images.dtype == "float32"
    assert labels.shape == (8,)
    assert -1.0 <= float(images.numpy().min()) and float(images.numpy().max()) <= 1.0
    assert set(labels.numpy()) <= set(range(len(flowers.class_names)))
    # validation is deterministic (no shuffle, no augmentation); training is not
    first, second = (next(iter(pipes.valid))[0].numpy() for _ in range(2))
    np.testing.assert_array_equal(first, second)
    a, b = (next(iter(pipes.train))[0].numpy() for _ in range(2))
    assert not np.array_equal(a, b)
    assert sum(int(y.shape[0]) for _, y in pipes.valid) == flowers.num_examples["valid"]


def test_pipeline_decodes_jpeg_and_checks_arguments():
    import tensorflow as tf

    photo = data.load_sample_image("china")
    ds = tf.data.Dataset.from_tensor_slices(([tf.io.encode_jpeg(photo).numpy()] * 3, [0, 1, 2]))
    batch, _ = next(iter(data.image_pipeline(ds, 32, batch_size=3, cache=False)))
    assert batch.shape == (3, 32, 32, 3)
    assert 0 <= float(batch.numpy().min()) and float(batch.numpy().max()) <= 255
    with pytest.raises(ValueError, match="image_size=4"):
        data.image_pipeline(ds, 4)
    with pytest.raises(ValueError, match="name='Resnet'"):
        data.flowers_pipeline(object(), "Resnet")


def test_one_training_step_through_the_full_pipeline(pipes):
    model = training.build_transfer_model(small_base(), len(pipes.class_names))
    training.compile_classifier(model, 0.01)
    history = model.fit(pipes.train, validation_data=pipes.valid.take(1),
                        steps_per_epoch=1, epochs=1, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model.predict(pipes.test.take(1), verbose=0).shape == (8, 5)


def test_freeze_then_unfreeze():
    base = small_base()
    model = training.build_transfer_model(base, 5)
    training.freeze(base)
    assert base.trainable_weights == []
    assert [w.path for w in model.trainable_weights] == ["head/kernel", "head/bias"]
    training.unfreeze(base, from_layer=100)
    partial = len(base.trainable_weights)
    assert partial > 0
    assert not any(layer.trainable_weights for layer in base.layers[:100])
    assert any(layer.trainable_weights for layer in base.layers[100:])
    training.unfreeze(base)
    assert len(base.trainable_weights) > partial
    with pytest.raises(ValueError, match="from_layer=999"):
        training.unfreeze(base, from_layer=999)


def test_batchnorm_stays_in_inference_mode_after_unfreezing():
    base = small_base()
    model = training.build_transfer_model(base, 5, dropout=0.0)
    training.unfreeze(base)
    bn = [layer for layer in base.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert bn
    x = np.random.default_rng(0).uniform(-1, 1, (4, SIZE, SIZE, 3)).astype("float32")
    # training=True on the whole model still runs the base's BN in inference mode
    np.testing.assert_allclose(model(x, training=True), model(x, training=False), atol=1e-6)
    before = [layer.moving_mean.numpy().copy() for layer in bn]
    training.compile_classifier(model, 0.01)
    model.train_on_batch(x, np.arange(4))
    for layer, mean in zip(bn, before):
        np.testing.assert_array_equal(layer.moving_mean.numpy(), mean)
    assert not any(layer.trainable for layer in bn)


def test_transfer_model_checks_and_float32_head_under_mixed_precision():
    with pytest.raises(ValueError, match="num_classes=1"):
        training.build_transfer_model(small_base(), 1)
    with pytest.raises(ValueError, match="include_top=False"):
        training.build_transfer_model(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]), 2)
    with pytest.raises(ValueError, match="fine_tune_lr"):
        training.fit_two_phase(None, None, None, head_lr=0.01, fine_tune_lr=0.01)
    with pytest.raises(ValueError, match="optimizer='rmsprop'"):
        training.compile_classifier(keras.Sequential([keras.layers.Dense(2)]), 0.1, "rmsprop")
    previous = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = training.build_transfer_model(small_base(), 5)
        assert model.get_layer("avg_pool").compute_dtype == "float16"
        assert model.output.dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy(previous)


# ------------------------------------------------------------- learning: digits 0-4 -> 5-9
SEEDS = (0, 1)
MIN_MEAN_GAIN = 0.05  # transfer minus scratch accuracy averaged over SEEDS; reached 0.076 (0.053, 0.099)


@pytest.fixture(scope="module")
def comparisons():
    return [training.digits_transfer_experiment(shots_per_class=10, seed=s,
                                                head_epochs=3, fine_tune_epochs=3)
            for s in SEEDS]


def test_pretraining_learned_digits_0_to_4(comparisons):
    for result in comparisons:
        assert result.source_accuracy > 0.95  # reached 0.99+


def test_transfer_beats_scratch_on_few_labels(comparisons):
    gains = [r.gain for r in comparisons]
    summary = [(round(r.transfer_accuracy, 3), round(r.scratch_accuracy, 3)) for r in comparisons]
    assert np.mean(gains) >= MIN_MEAN_GAIN, summary
    assert all(r.transfer_accuracy > 0.7 for r in comparisons), summary  # reached 0.78, 0.79
    assert comparisons[0].num_test > 200
    # the two-phase history covers both phases, switch at the head epochs
    history = comparisons[0].transfer_history
    assert history.switch_epoch == 3 and len(history.history["val_accuracy"]) == 6


def test_cosine_schedule_decays_over_every_batch_of_every_epoch():
    schedule = training.cosine_schedule(1e-2, epochs=3, num_examples=100, batch_size=32, alpha=0.1)
    steps = 3 * 4  # ceil(100 / 32) = 4 batches per epoch
    assert float(schedule(0)) == pytest.approx(1e-2)
    assert float(schedule(steps // 2)) == pytest.approx(0.55e-2, rel=1e-3)  # halfway down
    assert float(schedule(steps)) == pytest.approx(1e-3)


def test_trained_model_has_named_fields():
    result = training.TrainedModel(model="m", history={"loss": [2.0, 1.0]})
    assert result.model == "m" and result.history["loss"][-1] == 1.0
