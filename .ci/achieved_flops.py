"""How close the heavy training cells of quick mode come to this machine's matmul speed.

    python .ci/achieved_flops.py [--steps 30]

For five of the heaviest trainings (the chapters' own builders, their quick-mode image sizes and
batch sizes), times ``--steps`` training steps of ``model.fit`` on random data after a warm-up epoch
(the data do not change the speed), then reports the forward FLOPs per image
(``homl_cv.bench.model_flops``), images/s, the achieved GFLOP/s (3 x forward FLOPs x images/s:
a step costs about three forward passes) and its fraction of the float32 matmul peak
(``homl_cv.bench.matmul_peak_gflops``) measured in the same run. The loss is a mean squared error
on the model's outputs for every model: its cost is negligible next to the network's.
"""
import argparse
import os
import time

os.environ.setdefault("HOML_CV_QUICK", "1")
os.environ.setdefault("HOML_CV_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from homl_cv import bench, detection, localization, models, segmentation as seg  # noqa: E402

CELLS = {  # name: (builder, batch size), the chapters' quick-mode settings
    "06 U-Net (64 px, batch 8)": (lambda: seg.build_unet(5, (64, 64, 3), filters=(8, 16, 32, 64, 128)), 8),
    "06 FCN-8s (64 px, batch 16)": (lambda: seg.build_fcn(5, (64, 64, 3), variant="8s"), 16),
    "05 tiny YOLO (64 px, filters 16, batch 16)": (lambda: detection.build_yolo_detector(64, 3, 4, filters=16), 16),
    "04 localizer (64 px, batch 32)": (lambda: localization.build_localizer((64, 64, 3), 4), 32),
    "07 GAP CNN (48 px, batch 32)": (lambda: models.build_gap_cnn((48, 48, 3), 4, filters=(32, 32, 64)), 32),
}


def images_per_second(model, batch_size: int, steps: int) -> float:
    rng = np.random.default_rng(0)
    x = rng.random((batch_size * steps, *model.input_shape[1:]), dtype=np.float32)
    if isinstance(model.output, dict):  # the localizer's two named heads
        y = {name: rng.random((len(x), *o.shape[1:]), dtype=np.float32) for name, o in model.output.items()}
        warm = {name: v[:batch_size * 3] for name, v in y.items()}
    else:
        y = rng.random((len(x), *model.output.shape[1:]), dtype=np.float32)
        warm = y[:batch_size * 3]
    model.compile(optimizer="adam", loss="mse")
    model.fit(x[:batch_size * 3], warm, batch_size=batch_size, epochs=1, verbose=0)  # trace, warm up
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
    return len(x) / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    peak = bench.matmul_peak_gflops(1024, repeats=20)
    print(f"float32 matmul peak (1024x1024, TensorFlow): {peak:.1f} GFLOP/s")
    print("| training | forward MFLOP/image | images/s | achieved GFLOP/s | of the peak |")
    print("|---|---:|---:|---:|---:|")
    for name, (build, batch_size) in CELLS.items():
        keras.utils.set_random_seed(0)
        model = build()
        flops = bench.model_flops(model)
        speed = images_per_second(model, batch_size, args.steps)
        achieved = bench.TRAINING_STEP_FORWARDS * flops * speed / 1e9
        print(f"| {name} | {flops / 1e6:.1f} | {speed:.0f} | {achieved:.2f} | {achieved / peak:.1%} |", flush=True)
        keras.backend.clear_session()
    print(f"float32 matmul peak again (1024x1024): {bench.matmul_peak_gflops(1024, repeats=20):.1f} GFLOP/s")


if __name__ == "__main__":
    main()
