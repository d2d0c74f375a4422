"""pytest set-up shared by the unit tests (tests/) and nbval (chapters/).

Tests always run in quick + offline mode unless the caller says otherwise:
the notebooks' stored outputs were made that way, and no test may need the
network. The notebook kernels inherit this environment.
"""

import os

os.environ.setdefault("HOML_CV_QUICK", "1")
os.environ.setdefault("HOML_CV_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_collectstart(collector):
    """nbval: do not compare stderr (TensorFlow/absl log lines) or pictures.

    Figures differ in their bytes between matplotlib versions; what a figure
    shows is checked through the numbers the cell prints.
    """
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += (
            "stderr",
            "image/png",
            "text/html",
            "application/vnd.jupyter.widget-view+json",
        )
