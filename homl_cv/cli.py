"""homl-cv: run the course chapters, check this machine, measure it.

homl-cv run [CHAPTERS] [--quick | --full] [--offline | --online]
    Execute chapters headless in fresh kernels, write the executed notebooks
    to --out (default runs/) and print a table of status and time per chapter.
    Defaults: --quick (small data, few epochs) and --offline (no downloads);
    --full trains at the book's sizes, --online allows downloads, e.g.
    "homl-cv run --full --online 03". The kernels' stderr (TensorFlow's log
    lines) goes to a log file per chapter in --out, named on failure.
    --inplace stores the outputs in the chapter files themselves (for
    authors), cleaned, and only after the chapter ran without an error.
    --rehearse runs the full path without a download: full mode on local
    stand-ins of the datasets (homl_cv.rehearsal, written to a temporary
    data dir), random weights for the pretrained bases, no network, and
    training capped at a few steps per phase, e.g. "homl-cv run --rehearse 03".

homl-cv doctor
    What this machine offers: TensorFlow/Keras/keras-cv versions, GPUs and
    their memory, mixed-precision support, the datasets and pretrained weights
    available without a download, and the mode the chapters would run in.

homl-cv bench [ARGS...]
    The benchmarks: forwards ARGS to homl_cv.bench.main.

Expected failures (unknown chapter, missing folder, a bad HOML_CV_* value)
print one line and exit with status 2; a chapter that fails makes the exit
status 1.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import contextlib
import io
import os
import re
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from homl_cv import config, data, datasets, rehearsal, sources

__all__ = [
    "CPU_ONLY_NOTE",
    "MIXED_PRECISION_MIN_CAPABILITY",
    "UsageError",
    "build_parser",
    "clean_notebook",
    "cmd_bench",
    "cmd_doctor",
    "cmd_run",
    "run_chapters",
    "default_chapters_dir",
    "execute_notebook",
    "find_chapters",
    "main",
    "MAX_IMAGE_WIDTH",
    "plain_text",
    "shrink_png",
    "native_stderr_captured",
    "shrink_outputs",
    "write_notebook_atomically",
]


class UsageError(Exception):
    """An expected failure: printed as one line, exit status 2."""


# ----------------------------------------------------------------------------- run
def default_chapters_dir() -> Path:
    here = Path.cwd() / "chapters"
    if here.is_dir():
        return here
    return Path(__file__).resolve().parents[1] / "chapters"


def find_chapters(selection, chapters_dir: Path, solutions: bool = False) -> list:
    """Notebook paths for a selection like ``["01", "03_pretrained"]`` (all if empty)."""
    if not chapters_dir.is_dir():
        raise UsageError(
            f"No chapters folder at {chapters_dir}: run from a clone of the homl-cv "
            f"repository or pass --chapters-dir."
        )
    notebooks = sorted(chapters_dir.glob("[0-9][0-9]_*.ipynb"))
    if solutions:
        notebooks += sorted((chapters_dir / "solutions").glob("[0-9][0-9]_*.ipynb"))
    if not selection:
        return notebooks
    chosen = []
    for wanted in selection:
        key = wanted.removesuffix(".ipynb")
        matches = [nb for nb in notebooks if nb.stem == key or nb.stem.split("_")[0] == key.zfill(2)]
        if not matches:
            names = ", ".join(nb.stem for nb in notebooks)
            raise UsageError(f"Unknown chapter {wanted!r}. Available: {names}.")
        chosen += [nb for nb in matches if nb not in chosen]
    return chosen


def clean_notebook(nb) -> None:
    """Drop what must not be stored and make the rest light, in place.

    Removes stderr streams, execution timing and widget state, then applies
    :func:`shrink_outputs` (smaller PNGs, no ANSI codes, no widget views).
    """
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs
                            if not (o.output_type == "stream" and o.name == "stderr")]
    nb.metadata.pop("widgets", None)
    shrink_outputs(nb)


MAX_IMAGE_WIDTH = 700  # pixels: wider stored PNGs are scaled down to this width
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
# ANSI escape sequences (colours, bold, cursor moves) as Keras and tqdm print them.
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_BACKSPACE = re.compile(r"[^\n\x08]\x08")


def plain_text(text: str) -> str:
    """``text`` as a terminal would show it: no ANSI codes, backspaces applied.

    Example:
        >>> plain_text("\x1b[1mloss\x1b[0m 0.5\x08\x083")
        'loss 3'
    """
    text = ANSI_ESCAPE.sub("", text)
    while "\x08" in text:
        text, count = _BACKSPACE.subn("", text)
        if not count:  # backspaces at the start of a line erase nothing
            text = text.replace("\x08", "")
    return text


def shrink_png(png_base64: str, max_width: int = MAX_IMAGE_WIDTH) -> str:
    """A smaller base64 PNG: at most ``max_width`` pixels wide, adaptive palette, optimized.

    The original is returned when re-encoding would not make it smaller.
    """
    raw = base64.b64decode(png_base64)
    image = Image.open(io.BytesIO(raw))
    image.load()
    if image.width > max_width:
        height = max(1, round(image.height * max_width / image.width))
        image = image.convert("RGBA").resize((max_width, height), Image.LANCZOS)
    if image.mode != "P":
        rgba = image.convert("RGBA")
        if rgba.getextrema()[3][0] == 255:  # opaque: a plain RGB palette
            image = rgba.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
        else:
            image = rgba.quantize(256, method=Image.Quantize.FASTOCTREE)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    if buffer.tell() >= len(raw):
        return png_base64
    return base64.b64encode(buffer.getvalue()).decode("ascii") + "\n"


def shrink_outputs(nb) -> None:
    """Make a notebook's stored outputs light and plain, in place.

    PNG images are re-encoded with :func:`shrink_png`; text outputs lose ANSI
    escape codes and backspaces (:func:`plain_text`); widget views, which no
    static viewer can show, are dropped in favour of their ``text/plain``
    fallback. Used by :func:`clean_notebook`, so by ``homl-cv run --inplace``.
    """
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = plain_text("".join(out["text"]))
            data = out.get("data", {})
            if WIDGET_MIME in data:
                del data[WIDGET_MIME]
                if not data:
                    continue
            for mime in [m for m in data if m.startswith("text/")]:
                if isinstance(data[mime], (str, list)):
                    data[mime] = plain_text("".join(data[mime]))
            if "image/png" in data:
                data["image/png"] = shrink_png("".join(data["image/png"]))
            kept.append(out)
        cell["outputs"] = kept


def _absolute_paths_in(nb) -> list:
    roots = {str(Path.home()), str(Path(__file__).resolve().parents[1])}
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            text = str(out.get("text", "")) + str(out.get("data", {}).get("text/plain", ""))
            if any(root in text for root in roots):
                found.append(i)
    return found


def write_notebook_atomically(nb, path: Path) -> None:
    """Write ``nb`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    A reader (or an interrupted run) never sees a half-written notebook.
    """
    import nbformat  # the [runner] extra: imported only when notebooks are written

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".ipynb.tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            nbformat.write(nb, handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def execute_notebook(path: Path, out_path: Path, timeout: int, env=None, log_path=None,
                     partial_path=None, progress: bool = True) -> None:
    """Run one notebook in a fresh kernel (cwd = its folder) with a cell progress bar.

    Args:
        path: the notebook to run.
        out_path: where the executed, cleaned notebook is written (atomically).
        timeout: seconds allowed per cell.
        env: the kernel's whole environment (default: this process's).
        log_path: file that receives the kernel's stderr (TensorFlow's log
            lines) and, on failure, the error; default: inherit this stderr.
        partial_path: where the partial run is written when a cell fails (for
            reading); default None: nowhere. ``out_path`` is written only
            after a run without errors.
        progress: show a per-cell progress bar (off when kernels run side by side).

    Raises:
        Whatever the execution raised (e.g. ``nbclient.exceptions.CellExecutionError``).
    """
    try:  # the [runner] extra, not installed with the chapters' runtime (e.g. on Colab)
        import nbformat
        from nbclient import NotebookClient
    except ModuleNotFoundError as exc:
        raise UsageError(
            f"'homl-cv run' needs {exc.name}, which is not installed: "
            f"python -m pip install 'homl-cv[runner]' (or -r requirements.txt in a clone)."
        ) from exc
    from tqdm.auto import tqdm

    nb = nbformat.read(path, as_version=4)
    code_cells = sum(c.cell_type == "code" for c in nb.cells)
    log = None
    if log_path is not None:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        log = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    try:
        with tqdm(total=code_cells, desc=path.stem, unit="cell", leave=False,
                  disable=not progress) as bar:
            client = NotebookClient(
                nb, timeout=timeout, kernel_name="python3", record_timing=False,
                resources={"metadata": {"path": str(path.parent)}},
                on_cell_executed=lambda **_: bar.update(1),
            )
            kernel_options = {"stderr": log} if log is not None else {}
            try:
                client.execute(env=dict(os.environ if env is None else env), **kernel_options)
            except BaseException as exc:
                if log is not None:
                    log.write(f"\n{type(exc).__name__}: {exc}\n")
                if partial_path is not None:
                    clean_notebook(nb)
                    write_notebook_atomically(nb, Path(partial_path))
                raise
    finally:
        if log is not None:
            log.close()
    clean_notebook(nb)
    write_notebook_atomically(nb, out_path)
    leaked = _absolute_paths_in(nb)
    if leaked:
        print(f"warning: {path.name}: outputs of cells {leaked} contain absolute paths.")


def cmd_run(args) -> int:
    if getattr(args, "rehearse", False):
        if args.inplace:
            raise UsageError("--rehearse cannot be stored --inplace: a rehearsal's outputs "
                             "(random weights, capped training) must not replace a chapter's.")
        with tempfile.TemporaryDirectory(prefix="homl-cv-rehearsal-") as root:
            print(f"Rehearsal: writing the stand-in datasets ({', '.join(rehearsal.STAND_INS)}) "
                  f"to a temporary data dir...")
            start = time.perf_counter()
            overrides = rehearsal.rehearsal_environment(root)
            print(f"  written in {time.perf_counter() - start:.0f} s.")
            return run_chapters(args, {**os.environ, **overrides},
                                "REHEARSAL: full, local stand-ins, random weights, training capped")
    # The mode goes to the kernels only: this process's environment stays as it was.
    env = {**os.environ, config.QUICK_ENV: "1" if args.quick else "0",
           config.OFFLINE_ENV: "1" if args.offline else "0"}
    mode = f"{'quick' if args.quick else 'full'}, {'offline' if args.offline else 'online'}"
    return run_chapters(args, env, mode)


def run_chapters(args, env: dict, mode: str) -> int:
    """Execute the chapters that ``args`` selects with the kernels' environment ``env``.

    Prints one line per chapter and a table of status and time; returns the
    exit status (1 when a chapter failed). ``mode`` is the words that
    describe ``env`` in the first line.
    """
    chapters_dir = Path(args.chapters_dir) if args.chapters_dir else default_chapters_dir()
    notebooks = find_chapters(args.chapters, chapters_dir, solutions=args.solutions)
    if not notebooks:
        raise UsageError(f"No chapter notebooks found in {chapters_dir}.")
    out_dir = Path(args.out)
    print(f"Running {len(notebooks)} notebook(s) in {mode} mode; "
          f"kernel logs go to {out_dir}/.")
    jobs = max(1, min(getattr(args, "jobs", 1) or 1, len(notebooks)))
    if jobs > 1:
        # the kernels share the cores: each TensorFlow gets its share of threads
        # (unless the caller's environment sets them)
        env = {**config.shared_core_threads(jobs), **env}
        threads = env.get(config.THREAD_ENVS[0], "TensorFlow's default")
        print(f"{jobs} kernels side by side (--jobs {jobs}, {threads} TensorFlow thread(s) each); "
              "each chapter's line comes when it ends.")

    def run_one(nb_path):
        in_out = out_dir / nb_path.relative_to(chapters_dir)
        log_path = in_out.with_suffix(".log")
        start = time.perf_counter()
        try:
            # With --inplace the chapter file is replaced only after a run without
            # errors; a failed run is written to --out either way, for reading.
            execute_notebook(nb_path, nb_path if args.inplace else in_out, args.timeout,
                             env=env, log_path=log_path, partial_path=in_out,
                             progress=jobs == 1)
            status = "ok"
        except UsageError:
            raise
        except Exception as exc:  # noqa: BLE001 - report and go on with the next chapter
            last = (str(exc).strip().splitlines() or [""])[-1][:80]
            status = f"FAILED: {type(exc).__name__}: {last}"
        row = (nb_path.stem, status, time.perf_counter() - start)
        print(f"  {row[0]:<32} {status:<10} {row[2]:7.1f} s", flush=True)
        if status != "ok":
            print(f"    partial run: {in_out}; kernel log and error: {log_path}", flush=True)
        return row

    wall = time.perf_counter()
    if jobs == 1:
        rows = [run_one(nb_path) for nb_path in notebooks]
    else:  # one thread per kernel: the kernels are processes, the threads only wait
        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            # the slowest first, so that the last one to start is a short one
            order = sorted(notebooks, key=lambda p: -p.stat().st_size)
            done = dict(zip(order, pool.map(run_one, order)))
        rows = [done[nb_path] for nb_path in notebooks]
    failed = sum(status != "ok" for _, status, _ in rows)
    print(f"\n{'chapter':<34}{'status':<10}{'time':>9}")
    for name, status, seconds in rows:
        print(f"{name:<34}{status.split(':')[0]:<10}{seconds:8.1f}s")
    where = "in place" if args.inplace else f"in {out_dir}/"
    print(f"{len(rows) - failed} ok, {failed} failed in {time.perf_counter() - wall:.0f} s wall; "
          f"executed notebooks written {where}.")
    return 1 if failed else 0


# ----------------------------------------------------------------------------- doctor
MIXED_PRECISION_MIN_CAPABILITY = (7, 0)  # float16 tensor cores: Volta and later


def _gpu_lines() -> list:
    """One line per visible GPU: name, compute capability, memory, mixed-precision support."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return ["GPU: none (CPU only)",
                "Mixed precision: no (it needs a GPU with compute capability >= 7.0)"]
    lines = []
    for index, gpu in enumerate(gpus):
        details = tf.config.experimental.get_device_details(gpu)
        capability = details.get("compute_capability")
        name = details.get("device_name", gpu.name)
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialized
            pass
        try:
            memory = tf.config.experimental.get_memory_info(f"GPU:{index}")
            used = f"{memory['current'] / 2**20:.0f} MiB in use, peak {memory['peak'] / 2**20:.0f} MiB"
        except (ValueError, RuntimeError) as exc:
            used = f"memory unknown ({type(exc).__name__})"
        total = _nvidia_smi_total(index)
        cap = ".".join(map(str, capability)) if capability else "unknown"
        lines.append(f"GPU {index}: {name}, compute capability {cap}, "
                     f"{total + ', ' if total else ''}{used}")
        if capability:
            ok = tuple(capability) >= MIXED_PRECISION_MIN_CAPABILITY
            lines.append(f"  mixed precision: {'yes' if ok else 'no'} "
                         f"(compute capability {cap} {'>=' if ok else '<'} 7.0)")
    return lines


def _nvidia_smi_total(index: int) -> str:
    import shutil
    import subprocess

    if not shutil.which("nvidia-smi"):
        return ""
    try:
        out = subprocess.run(
            ["nvidia-smi", f"--id={index}", "--query-gpu=memory.total", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return f"{out} total" if out else ""


def _dataset_lines(data_dir: Path) -> list:
    """The datasets the loaders would find without a download, where they really look."""
    lines = [f"Data dir: {sources.shown_path(data_dir)} (set {config.DATA_DIR_ENV} to change)"]
    for name in datasets.names():  # the registry: every dataset a loader downloads
        found = datasets.prepared(name, data_dir)
        lines.append(f"  {name:<16} {'available' if found else 'not downloaded'}")
    lines.append(f"  {'sample photos':<16} bundled: {', '.join(data.SAMPLE_PHOTOS)}")
    lines.append(f"  {'digits':<16} bundled (scikit-learn, 1,797 images: the offline MNIST)")
    lines.append(f"  {'shapes':<16} generated (homl_cv.data.make_shapes, exact boxes and masks)")
    return lines


def _weights_lines() -> list:
    """The weights files in Keras' cache, the folder ``pretrained`` and ``style`` load from."""
    folder = sources.keras_models_dir()
    shown = sources.shown_path(folder)
    files = sorted(p.name for p in folder.glob("*") if p.suffix in (".h5", ".keras")) if folder.is_dir() else []
    if not files:
        return [f"Pretrained weights in {shown}: none (offline chapters use random or "
                f"freshly trained weights)"]
    return [f"Pretrained weights in {shown}:"] + [f"  {name}" for name in files]


CPU_ONLY_NOTE = ("TensorFlow's start-up log lines (such as 'failed call to cuInit' and "
                 "'Could not find cuda drivers') were hidden: on a machine without a CUDA GPU "
                 "they are expected and harmless.")


@contextlib.contextmanager
def native_stderr_captured():
    """Send file descriptor 2 to a temporary file for the ``with`` block.

    TensorFlow's C++ start-up lines (absl, CUDA probing) bypass ``sys.stderr``
    and ignore ``TF_CPP_MIN_LOG_LEVEL``; only the file descriptor catches them.
    Yields a list that holds the captured text once the block has ended; if the
    block raises, the text is written to ``sys.stderr`` as well.
    """
    captured = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        failed = True
        try:
            yield captured
            failed = False
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            captured.append(tmp.read().decode("utf-8", errors="replace"))
            if failed:  # the hidden lines may explain the error: show them
                sys.stderr.write(captured[0])


def cmd_doctor(args) -> int:
    import platform

    quick, offline = config.is_quick(), config.is_offline()  # ValueError on a bad value
    with native_stderr_captured() as tf_log:
        import keras
        import tensorflow as tf

        try:
            import keras_cv

            keras_cv_version = keras_cv.__version__
        except ImportError:
            keras_cv_version = "not installed"
        gpu_lines = _gpu_lines()
    import homl_cv

    if tf.config.list_physical_devices("GPU"):
        sys.stderr.write("".join(tf_log))  # with a GPU, TensorFlow's messages may matter
    print(f"homl-cv {homl_cv.__version__} | Python {platform.python_version()}")
    print(f"TensorFlow {tf.__version__} | Keras {keras.__version__} | keras-cv {keras_cv_version}")
    for line in gpu_lines + _dataset_lines(config.data_dir()) + _weights_lines():
        print(line)
    if not tf.config.list_physical_devices("GPU") and "".join(tf_log).strip():
        print(CPU_ONLY_NOTE)
    print(f"Mode: {'QUICK' if quick else 'FULL'}, {'OFFLINE' if offline else 'online'} "
          f"(from {config.QUICK_ENV}={os.environ.get(config.QUICK_ENV, '')!r}, "
          f"{config.OFFLINE_ENV}={os.environ.get(config.OFFLINE_ENV, '')!r}; "
          f"'homl-cv run' defaults to quick + offline)")
    return 0


# ----------------------------------------------------------------------------- bench
def cmd_bench(args) -> int:
    """Forward the arguments to ``homl_cv.bench.main`` (imported only now: it loads TF)."""
    import importlib

    try:
        bench = importlib.import_module("homl_cv.bench")
    except ModuleNotFoundError as exc:
        if exc.name != "homl_cv.bench":
            raise
        raise UsageError("the benchmarks module homl_cv.bench is missing from this install; "
                         "reinstall homl-cv from a full clone.") from exc
    return int(bench.main(list(args.bench_args)) or 0)


# ----------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    """The ``homl-cv`` argument parser (the README's commands are tested against it)."""
    summary, _, details = __doc__.partition("\n\n")
    parser = argparse.ArgumentParser(prog="homl-cv", description=summary, epilog=details,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="execute chapters headless",
                         description="Execute chapters headless; default quick + offline.")
    run.add_argument("chapters", nargs="*", help="chapter numbers or names (default: all)")
    size = run.add_mutually_exclusive_group()
    size.add_argument("--quick", dest="quick", action="store_true", default=True,
                      help="small data, few epochs (the default)")
    size.add_argument("--full", dest="quick", action="store_false",
                      help="the book's data sizes and training")
    net = run.add_mutually_exclusive_group()
    net.add_argument("--offline", dest="offline", action="store_true", default=True,
                     help="never download; bundled or generated data stand in (the default)")
    net.add_argument("--online", dest="offline", action="store_false",
                     help="allow downloads of datasets and pretrained weights")
    run.add_argument("--rehearse", action="store_true",
                     help="full mode on local stand-in datasets, random weights, no network, "
                          "training capped at a few steps (proves the full path runs)")
    run.add_argument("--out", default="runs",
                     help="folder for executed notebooks and kernel logs (default: runs)")
    run.add_argument("--inplace", action="store_true",
                     help="store outputs in the chapter files (only after a run without errors)")
    run.add_argument("--solutions", action="store_true", help="also run chapters/solutions/")
    run.add_argument("--chapters-dir", help="folder of the chapter notebooks")
    run.add_argument("--timeout", type=int, default=1800, help="seconds per cell (default: 1800)")
    run.add_argument("--jobs", "-j", type=int, default=min(2, os.cpu_count() or 1),
                     help="chapters run side by side, one kernel each (default: 2, or 1 on "
                          "a 1-core machine); -j 1 runs them one after another")
    run.set_defaults(func=cmd_run)

    doctor = sub.add_parser("doctor", help="versions, GPU, data and weights available, mode")
    doctor.set_defaults(func=cmd_doctor)

    bench = sub.add_parser("bench", add_help=False,
                           help="run the benchmarks (arguments go to homl_cv.bench)")
    bench.add_argument("bench_args", nargs=argparse.REMAINDER)
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:  # everything after "bench", options included, is bench's
        args = argparse.Namespace(command="bench", func=cmd_bench, bench_args=argv[1:])
    else:
        args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (UsageError, ValueError) as exc:
        print(f"homl-cv: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
