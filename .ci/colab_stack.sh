#!/usr/bin/env bash
# Google Colab's runtime, reproduced here, and the tests on it: Python 3.13 with
# Colab's pins (.ci/colab-constraints.txt, from ../shared/colab/pip-freeze.txt).
#
#   bash .ci/colab_stack.sh                 # build the venv, check the Colab cell, run pytest
#   bash .ci/colab_stack.sh tests/test_boxes.py -n 0   # any pytest arguments
#   bash .ci/colab_stack.sh --build-only    # build the venv and check it, run no tests
#   bash .ci/colab_stack.sh --no-build ...  # run pytest in the venv built before
#   bash .ci/colab_stack.sh --python 3.12 ...   # the same pins on another Python (3.11-3.13)
#
# --python X.Y (first) picks the Python: python X.Y on PATH, else pyenv's X.Y (default
# 3.13, Colab's). HOML_CV_COLAB_PYTHON names the interpreter instead; HOML_CV_COLAB_VENV
# the venv's folder (default: /tmp/homl-cv-colab for 3.13, /tmp/homl-cv-pyX.Y otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=3.13
if [ "${1:-}" = --python ]; then VERSION="${2:?--python needs a version, e.g. --python 3.12}"; shift 2; fi
PY="${HOML_CV_COLAB_PYTHON:-}"
if [ -z "$PY" ]; then
  PY="$(command -v "python$VERSION" || true)"
  # a pyenv shim is on PATH even where X.Y is not pyenv's global version: it must run
  if [ -z "$PY" ] || ! "$PY" --version >/dev/null 2>&1; then
    PY="$(ls -d "$(pyenv root 2>/dev/null || echo ~/.pyenv)"/versions/"$VERSION".*/bin/python"$VERSION" 2>/dev/null | tail -n 1)"
  fi
fi
[ -x "$PY" ] || { echo "colab_stack.sh: no Python $VERSION found; set HOML_CV_COLAB_PYTHON=/path/to/python$VERSION"; exit 2; }
if [ "$VERSION" = 3.13 ]; then STACK="Colab stack"; DEFAULT_VENV=/tmp/homl-cv-colab
else STACK="Colab's pins on Python $VERSION"; DEFAULT_VENV="/tmp/homl-cv-py$VERSION"; fi
VENV="${HOML_CV_COLAB_VENV:-$DEFAULT_VENV}"
MODE=all
case "${1:-}" in --build-only|--no-build) MODE="$1"; shift ;; esac
if [ "$MODE" != --no-build ]; then
  echo "== $STACK: $("$PY" --version) in $VENV, pins of .ci/colab-constraints.txt"
  "$PY" -m venv --clear "$VENV"
  # The project's dependencies (pyproject.toml, with the test extra) under the pins; the
  # project itself is installed below, so that a build running beside .ci/run's own
  # `pip install -e .` of this checkout never writes into the source tree at the same time.
  "$VENV/bin/python" -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['test']))" >"$VENV/deps.txt"
  # (byte-compiled here, in the background of .ci/run: with --no-compile each pytest worker
  # compiled TensorFlow's modules itself at first import, 83 s more for the 3.12 stage)
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -c .ci/colab-constraints.txt -r "$VENV/deps.txt"
fi
[ "$MODE" = --build-only ] && exit 0
[ -x "$VENV/bin/python" ] || { echo "colab_stack.sh --no-build: no venv at $VENV; run it without --no-build first"; exit 2; }
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements.txt
"$VENV/bin/python" -c "import tensorflow as tf, keras, numpy, google.protobuf as pb, tensorflow_datasets as tfds; tfds.builder_cls; print('TensorFlow', tf.__version__, '| Keras', keras.__version__, '| numpy', numpy.__version__, '| protobuf', pb.__version__, '| tfds', tfds.__version__)" 2>/dev/null
# the Colab cell's install plan, against Colab's own runtime (Python 3.13)
[ "$VERSION" = 3.13 ] && "$VENV/bin/python" .ci/colab_plan.py
echo "== $STACK: the tests, in $VENV ($("$VENV/bin/python" --version))"
"$VENV/bin/python" -m pytest "$@"
