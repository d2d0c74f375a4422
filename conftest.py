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
