"""Chapter 06's section 13 from one seed: a U-Net on a tagger's encoder against one from scratch.

    python .ci/unet_pretrained.py --seed 1 --threads 1
    python .ci/unet_pretrained.py --masks 200 --epochs 30 --frozen 10 --single-label

The chapter's recipe (BENCHMARKS.md, "A U-Net on a pretrained encoder"): a multi-label tagger on
3,000 generated shape images (``--tagged``, ``--tag-epochs``; ``--single-label``: one shape per
image and a softmax instead), then two five-level U-Nets trained on ``--masks`` masked images for
``--epochs`` epochs each: one from scratch, one on the tagger's encoder (``--frozen`` epochs with
it frozen, the rest with everything trained at a third of the learning rate). Prints one JSON line:
the test mean IoU of both, their difference, the tagger's held-out accuracy and the seconds spent.
"""
import argparse
import json
import os
import time

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--seed", type=int, default=42)
parser.add_argument("--threads", type=int, default=0, help="TensorFlow intra-op threads (0: its default)")
parser.add_argument("--tagged", type=int, default=3000)
parser.add_argument("--tag-epochs", type=int, default=6)
parser.add_argument("--single-label", action="store_true")
parser.add_argument("--masks", type=int, default=50)
parser.add_argument("--epochs", type=int, default=60)
parser.add_argument("--frozen", type=int, default=30)
parser.add_argument("--bn-trained", action="store_true", help="phase 2: train the encoder's batch norms too")
parser.add_argument("--filters", default="8,16,32,64,128", help="the U-Net's widths per level")
args = parser.parse_args()
if args.threads:
    os.environ["TF_NUM_INTRAOP_THREADS"], os.environ["TF_NUM_INTEROP_THREADS"] = str(args.threads), "1"
os.environ.setdefault("HOML_CV_QUICK", "1")
os.environ.setdefault("HOML_CV_OFFLINE", "1")

import keras  # noqa: E402 - after the environment is set
import numpy as np  # noqa: E402

from homl_cv import config, data, segmentation as seg, training  # noqa: E402

FILTERS = tuple(int(f) for f in args.filters.split(","))
start = time.time()
tagged = data.make_shapes(args.tagged, image_size=64, max_objects=1 if args.single_label else 2,
                          size_range=(0.15, 0.4), seed=5)
if args.single_label:
    tags, loss, metric = tagged.classes[:, 0], keras.losses.SparseCategoricalCrossentropy(from_logits=True), "accuracy"
else:
    tags = (tagged.classes[:, :, None] == np.arange(len(tagged.class_names))).any(axis=1).astype("float32")
    loss, metric = keras.losses.BinaryCrossentropy(from_logits=True), keras.metrics.BinaryAccuracy(threshold=0.0)
config.set_seeds(args.seed)
encoder = seg.build_unet_encoder((64, 64, 3), filters=FILTERS)
images = keras.Input((64, 64, 3))
logits = keras.layers.Dense(len(tagged.class_names))(keras.layers.GlobalAveragePooling2D()(encoder(images)[-1]))
tagger = keras.Model(images, logits)
n_fit = int(0.9 * args.tagged)
tagger.compile(optimizer=keras.optimizers.Adam(training.cosine_schedule(3e-3, args.tag_epochs, n_fit, 32)),
               loss=loss, metrics=[metric])
history = tagger.fit(tagged.images[:n_fit], tags[:n_fit], epochs=args.tag_epochs, batch_size=32, verbose=0,
                     validation_data=(tagged.images[n_fit:], tags[n_fit:]))

shapes = seg.shapes_segmentation_splits()
few_masks = shapes.train.take(args.masks)
test_images, test_masks = seg.dataset_arrays(shapes.test)
steps = dict(batch_size=8, loss=seg.DiceLoss(from_logits=True, cross_entropy=1.0, per_image=False), verbose=0)
config.set_seeds(args.seed)
scratch = seg.build_unet(shapes.num_classes, (64, 64, 3), filters=FILTERS)
seg.train_segmentation(scratch, few_masks, epochs=args.epochs, learning_rate=3e-3, **steps)
config.set_seeds(args.seed)
transfer = seg.build_unet(shapes.num_classes, encoder=encoder)
frozen_phase = float("nan")
if args.frozen:
    encoder.trainable = False
    seg.train_segmentation(transfer, few_masks, epochs=args.frozen, learning_rate=3e-3, **steps)
    frozen_phase = seg.evaluate_segmentation(test_masks, seg.predict_masks(transfer, test_images),
                                             shapes.num_classes).mean_iou
if args.bn_trained:
    encoder.trainable = True
else:
    training.unfreeze(encoder)  # its batch norms stay frozen (inference mode)
seg.train_segmentation(transfer, few_masks, epochs=args.epochs - args.frozen, learning_rate=1e-3, **steps)
scores = {name: seg.evaluate_segmentation(test_masks, seg.predict_masks(model, test_images), shapes.num_classes)
          for name, model in (("scratch", scratch), ("pretrained", transfer))}
print(json.dumps({**vars(args), "tag_accuracy": round(history.history[f"val_{'accuracy' if args.single_label else 'binary_accuracy'}"][-1], 3),
                  "frozen_phase": round(frozen_phase, 3),
                  "scratch": round(scores["scratch"].mean_iou, 3), "pretrained": round(scores["pretrained"].mean_iou, 3),
                  "gain": round(scores["pretrained"].mean_iou - scores["scratch"].mean_iou, 3),
                  "seconds": round(time.time() - start)}))
