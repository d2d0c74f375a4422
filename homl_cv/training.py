"""Training helpers: compiling and fitting the chapters' models, transfer learning.

Example:
    >>> from homl_cv import training  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np


# ============================================================ 02 architectures (classifiers)


# ============================================================ 03 transfer learning


# ============================================================ 04-06 localization, detection, segmentation
