"""Model builders and custom layers for the chapters.

Every custom layer is registered with ``keras.saving.register_keras_serializable``
under the package name "homl_cv", has a ``get_config``, and round-trips through
a ``.keras`` file.

Example:
    >>> from homl_cv import models  # doctest: +SKIP
"""

from __future__ import annotations

import keras


# ============================================================ 02 architectures


# ============================================================ 04 classification + localization


# ============================================================ 07 inside a CNN
