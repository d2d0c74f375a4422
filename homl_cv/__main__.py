"""``python -m homl_cv``: the same as the ``homl-cv`` command."""

import sys

from homl_cv.cli import main

__all__ = []

sys.exit(main())
