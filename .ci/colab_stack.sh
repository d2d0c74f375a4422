#!/usr/bin/env bash
# Google Colab's runtime, reproduced here, and the tests on it: Python 3.13 with
# Colab's pins (.ci/colab-constraints.txt, from ../shared/colab/pip-freeze.txt).
#
#   bash .ci/colab_stack.sh                 # build the venv, check the Colab cell, run pytest
#   bash .ci/colab_stack.sh tests/test_boxes.py -n 0   # any pytest arguments
#
# HOML_CV_COLAB_PYTHON picks the interpreter (default: python3.13 on PATH, else
# pyenv's 3.13); HOML_CV_COLAB_VENV the venv's folder (default: /tmp/homl-cv-colab).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${HOML_CV_COLAB_PYTHON:-}"
if [ -z "$PY" ]; then
  PY="$(command -v python3.13 || true)"
  [ -n "$PY" ] || PY="$(ls -d "$(pyenv root 2>/dev/null || echo ~/.pyenv)"/versions/3.13*/bin/python3.13 2>/dev/null | tail -n 1)"
fi
[ -x "$PY" ] || { echo "colab_stack.sh: no Python 3.13 found; set HOML_CV_COLAB_PYTHON=/path/to/python3.13"; exit 2; }
VENV="${HOML_CV_COLAB_VENV:-/tmp/homl-cv-colab}"
echo "== Colab stack: $("$PY" --version) in $VENV, pins of .ci/colab-constraints.txt"
"$PY" -m venv --clear "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements.txt
"$VENV/bin/python" -c "import tensorflow as tf, keras, numpy, google.protobuf as pb, tensorflow_datasets as tfds; tfds.builder_cls; print('TensorFlow', tf.__version__, '| Keras', keras.__version__, '| numpy', numpy.__version__, '| protobuf', pb.__version__, '| tfds', tfds.__version__)" 2>/dev/null
"$VENV/bin/python" .ci/colab_plan.py
"$VENV/bin/python" -m pytest "$@"
