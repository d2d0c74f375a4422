"""homl-cv: the tested code behind the deep computer vision chapters.

One module per concern: ``config`` (modes, seeds, device), ``data``,
``conv``, ``models``, ``training``, ``boxes``, ``detection``,
``segmentation``, ``regions``, ``instances``, ``superres``, ``viz``,
``exercises``. Import what a chapter needs::

    from homl_cv import config, data
"""

import os

# Hide TensorFlow's C++ start-up chatter (CPU instruction sets, CUDA probing);
# real warnings and errors still show. Set before TensorFlow is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
