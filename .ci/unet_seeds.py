"""Chapter 06's U-Net trained from one seed with one recipe: its test mean IoU (BENCHMARKS.md).

    python .ci/unet_seeds.py --seed 5 --threads 1 --dice batch --batch 8

Quick mode's data (1,250 generated 64x64 shape images), the chapter's five-level U-Net, 10 epochs
of ``seg.train_segmentation``, the test split scored by ``seg.evaluate_segmentation``. ``--dice``:
``image`` (Dice per image), ``batch`` (over the batch, ``per_image=False``), ``present`` (per image,
classes absent from the image left out) or ``none`` (cross-entropy alone). Prints one JSON line.
"""
import argparse
import json
import os
import time

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--seed", type=int, default=42)
parser.add_argument("--threads", type=int, default=0, help="TensorFlow intra-op threads (0: its default)")
parser.add_argument("--lr", type=float, default=3e-3)
parser.add_argument("--epochs", type=int, default=10)
parser.add_argument("--batch", type=int, default=8)
parser.add_argument("--dice", choices=("image", "batch", "present", "none"), default="batch")
args = parser.parse_args()
if args.threads:
    os.environ["TF_NUM_INTRAOP_THREADS"], os.environ["TF_NUM_INTEROP_THREADS"] = str(args.threads), "1"
os.environ.setdefault("HOML_CV_QUICK", "1")
os.environ.setdefault("HOML_CV_OFFLINE", "1")

import keras  # noqa: E402 - after the environment is set

from homl_cv import config, segmentation as seg  # noqa: E402


class PresentClassesDice(keras.losses.Loss):
    """Per-image Dice over the classes present in the image only, plus cross-entropy (tried)."""

    def call(self, y_true, y_pred):
        ops = keras.ops
        probs = ops.softmax(y_pred, axis=-1)
        y_true = ops.cast(y_true, "int32")
        onehot = ops.one_hot(y_true, ops.shape(probs)[-1], dtype=probs.dtype)
        inter, total = ops.sum(probs * onehot, axis=(1, 2)), ops.sum(probs + onehot, axis=(1, 2))
        present = ops.cast(ops.sum(onehot, axis=(1, 2)) > 0, probs.dtype)
        dice = ops.sum((2 * inter + 1) / (total + 1) * present, axis=-1) / ops.sum(present, axis=-1)
        cross_entropy = keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)
        return 1 - dice + ops.mean(cross_entropy, axis=(1, 2))


splits = seg.load_segmentation_data()
size = splits.image_size
config.set_seeds(args.seed)
model = seg.build_unet(splits.num_classes, (size, size, 3), filters=(8, 16, 32, 64, 128))
loss = {"image": seg.DiceLoss(from_logits=True, cross_entropy=1.0),
        "batch": seg.DiceLoss(from_logits=True, cross_entropy=1.0, per_image=False),
        "present": PresentClassesDice(), "none": None}[args.dice]
config.set_seeds(args.seed)
start = time.time()
seg.train_segmentation(model, splits.train, splits.valid, epochs=args.epochs, batch_size=args.batch,
                       learning_rate=args.lr, loss=loss, verbose=0)
seconds = time.time() - start
images, masks = seg.dataset_arrays(splits.test)
scores = seg.evaluate_segmentation(masks, seg.predict_masks(model, images), splits.num_classes)
print(json.dumps({**vars(args), "mean_iou": round(scores.mean_iou, 3),
                  "class_iou": [round(float(v), 2) for v in scores.class_iou], "train_s": round(seconds)}))
