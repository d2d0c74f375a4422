#!/usr/bin/env bash
# Google Colab's runtime, reproduced here, and the tests on it: Python 3.13 with
# Colab's pins (.ci/colab-constraints.txt, from ../shared/colab/pip-freeze.txt).
#
#   bash .ci/colab_stack.sh                 # build the venv, check the Colab cell, run pytest
#   bash .ci/colab_stack.sh tests/test_boxes.py -n 0   # any pytest arguments
#   bash .ci/colab_stack.sh --build-only    # build the venv and check it, run no tests
#   bash .ci/colab_stack.sh --no-build ...  # run pytest in the venv built before
#
# HOML_CV_COLAB_PYTHON picks the interpreter (default: python3.13 on PATH, else
# pyenv's 3.13); HOML_CV_COLAB_VENV the venv's folder (default: /tmp/homl-cv-colab).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${HOML_CV_COLAB_PYTHON:-}"
if [ -z "$PY" ]; then
  PY="$(command -v python3.13 || true)"
  # a pyenv shim is on PATH even where 3.13 is not pyenv's global version: it must run
  if [ -z "$PY" ] || ! "$PY" --version >/dev/null 2>&1; then
    PY="$(ls -d "$(pyenv root 2>/dev/null || echo ~/.pyenv)"/versions/3.13*/bin/python3.13 2>/dev/null | tail -n 1)"
  fi
fi
[ -x "$PY" ] || { echo "colab_stack.sh: no Python 3.13 found; set HOML_CV_COLAB_PYTHON=/path/to/python3.13"; exit 2; }
VENV="${HOML_CV_COLAB_VENV:-/tmp/homl-cv-colab}"
MODE=all
case "${1:-}" in --build-only|--no-build) MODE="$1"; shift ;; esac
if [ "$MODE" != --no-build ]; then
  echo "== Colab stack: $("$PY" --version) in $VENV, pins of .ci/colab-constraints.txt"
  "$PY" -m venv --clear "$VENV"
  # The project's dependencies (pyproject.toml, with the test extra) under the pins; the
  # project itself is installed below, so that a build running beside .ci/run's own
  # `pip install -e .` of this checkout never writes into the source tree at the same time.
  "$VENV/bin/python" -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['test']))" >"$VENV/deps.txt"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -c .ci/colab-constraints.txt -r "$VENV/deps.txt"
fi
[ "$MODE" = --build-only ] && exit 0
[ -x "$VENV/bin/python" ] || { echo "colab_stack.sh --no-build: no venv at $VENV; run it without --no-build first"; exit 2; }
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements.txt
"$VENV/bin/python" -c "import tensorflow as tf, keras, numpy, google.protobuf as pb, tensorflow_datasets as tfds; tfds.builder_cls; print('TensorFlow', tf.__version__, '| Keras', keras.__version__, '| numpy', numpy.__version__, '| protobuf', pb.__version__, '| tfds', tfds.__version__)" 2>/dev/null
"$VENV/bin/python" .ci/colab_plan.py
echo "== Colab stack: the tests, in $VENV ($("$VENV/bin/python" --version))"
"$VENV/bin/python" -m pytest "$@"
