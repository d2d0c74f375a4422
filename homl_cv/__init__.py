"""homl-cv: the tested code behind the deep computer vision chapters.

One module per concept; import what a chapter needs (``from homl_cv import
config, data``). Calls flow downward: a module imports only modules above it
in this map, and topics never import each other (``tests/test_architecture.py``
checks it, with the rows of the README's "Architecture").

Plumbing (no TensorFlow at import time):

* ``config``: run modes (quick/full, offline/online), seeds, device set-up,
  the ``tf.distribute`` strategy pick.
* ``checks``: argument validation, one rule set and one voice for errors.
* ``sources``: where data and weights come from: offline and data-dir
  resolution, download errors, Keras' cache, the weights policy.
* ``claims``: visible checks of learned results (``claim("mean IoU", 0.69, at_least=0.6)``).
* ``listing``: show a package function's source in a chapter (``show_source``).

Building blocks:

* ``boxes``: box formats, IoU, non-max suppression, anchors, R-CNN box deltas,
  ``Detections`` (what every ``detect_*`` returns) (04, 05).
* ``regions``: regions of interest, RoIAlign on a shared feature map: a NumPy
  version to read, the TensorFlow one and the ``RoiAlign`` layer (05, 06).
* ``rle``: run-length encoding of masks, the Kaggle column-major convention (06).
* ``roc``: ROC curve and AUC by hand, for skewed binary tasks (02).
* ``conv``: convolution and pooling arithmetic, teaching versions (01).
* ``pretrained``: ``keras.applications`` bases, ImageNet class names (03).
* ``datasets``: the dataset registry, one entry per download, read by the
  loaders, ``doctor`` and the rehearsal (02, 03, 06).
* ``data``: dataset loaders, offline stand-ins, the generated shapes (and a clip of them moving).
* ``training``: generic fitting, schedules, transfer learning (02, 03).
* ``models``: the classic architectures (``build_*``) and custom layers (02, 07).
* ``distribute``: scaling out with ``tf.distribute``: logical CPU devices, global
  batch, learning-rate scaling, a ``strategy.run`` loop, ``TF_CONFIG`` (10).

Topics, one module per chapter that needs one:

* ``localization``: box encoding, ``MeanBoxIoU``, the localizer and its training (04).
* ``detection``: sliding windows, FCN, YOLO (model, targets, loss, training,
  ``detect_yolo``), mAP (05).
* ``rcnn``: two-stage detectors: RoI pooling, RPN anchors, a small Faster R-CNN,
  proposals and their recall, ``detect_two_stage`` (05).
* ``ssd``: SSD's multi-scale default boxes and their matching (05).
* ``tracking``: tracking by detection, SORT-style: IoU cost, Hungarian or greedy
  association, a constant-velocity filter, CLEAR MOT counts and MOTA (05).
* ``segmentation``: transposed convolution, un-pooling, FCN, U-Net, metrics, training (06).
* ``atrous``: atrous (dilated) convolution, DeepLab's ASPP module, receptive fields (06).
* ``instances``: instance segmentation, a Mask R-CNN-style mask head on RoIs, mask IoU (06).
* ``superres``: super-resolution, a sub-pixel convolution upsampler against bicubic, PSNR (06).
* ``interpret``: feature maps, filter visualization, CAM, Grad-CAM, occlusion (07).
* ``failures``: how vision systems fail: accuracy per subgroup, max-softmax confidence out of
  distribution, occlusion (07).
* ``style``: neural style transfer (08).
* ``clip``: images and text: captions, a CLIP-style model, InfoNCE, zero-shot, retrieval (09).

Top: ``viz`` (plots only; it computes nothing), ``bench`` (benchmarks),
``rehearsal`` (stand-ins of the downloads for ``homl-cv run --rehearse``),
``exercises`` (the auto-checked exercises, ``check("01.2", answer)``, and the
classifier checker, which grades with ``training``), ``cli`` (the ``homl-cv`` command).
"""

import os

# Hide TensorFlow's C++ start-up chatter (CPU instruction sets, CUDA probing);
# real warnings and errors still show. Set before TensorFlow is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from homl_cv import config, sources  # noqa: E402 - after the log level, before any download

# HOML_CV_NO_NETWORK=1: refuse network connections from the first import on
# (the tests and `homl-cv run --rehearse` prove that nothing is downloaded).
if config.is_network_blocked():
    sources.block_network()

__all__ = ["__version__"]

__version__ = "0.1.0"
