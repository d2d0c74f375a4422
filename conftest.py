"""pytest set-up shared by the unit tests (tests/) and nbval (chapters/).

Tests always run in quick + offline mode unless the caller says otherwise:
the notebooks' stored outputs were made that way, and no test may need the
network. The notebook kernels inherit this environment.
"""

import os

os.environ.setdefault("HOML_CV_QUICK", "1")
os.environ.setdefault("HOML_CV_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from homl_cv.claims import COMPARISON_PATTERNS  # noqa: E402 - after the environment is set
from homl_cv.config import shared_core_threads  # noqa: E402

# pytest-xdist's workers (and the notebook kernels they start, which inherit this
# environment) share the cores: each TensorFlow gets its share of threads, unless the
# caller set them.
for _name, _value in shared_core_threads(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))).items():
    os.environ.setdefault(_name, _value)


def pytest_collectstart(collector):
    """nbval: do not compare stderr (TensorFlow/absl log lines) or pictures; mask claims' measured values.

    Figures differ in their bytes between matplotlib versions; what a figure
    shows is checked through the numbers the cell prints. A claim line's
    measured numbers differ in their last digits between CPUs; its bound and
    its ✓ are compared, and the claim raises when the bound is missed
    (homl_cv.claims.COMPARISON_PATTERNS).
    """
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.sanitize_patterns.update(COMPARISON_PATTERNS)
        collector.skip_compare += (
            "stderr",
            "image/png",
            "text/html",
            "application/vnd.jupyter.widget-view+json",
        )


# The heaviest notebooks start first, so that pytest-xdist's two workers end together (a heavy
# notebook that starts last runs alone on one worker while the other has nothing left to do). The
# order is by their measured time under nbval (BENCHMARKS.md); the rest keep their order after them.
HEAVIEST_FIRST = (
    "chapters/06_segmentation.ipynb",      # about 300 s
    "chapters/05_detection.ipynb",         # about 230 s
    "chapters/02_architectures.ipynb",     # about 140 s
    "chapters/03_transfer_learning.ipynb",
    "chapters/04_localization.ipynb",
    "chapters/09_images_and_text.ipynb",
    "chapters/07_inside_cnn.ipynb",
)


def pytest_collection_modifyitems(config, items):
    """Put the notebooks of :data:`HEAVIEST_FIRST` first, in that order (a stable sort)."""
    rank = {path: i for i, path in enumerate(HEAVIEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))
