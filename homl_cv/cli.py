"""The ``homl-cv`` command.

``homl-cv run [CHAPTERS] [--quick/--full] [--offline/--online]``
    Execute chapters headless, write the executed notebooks to ``--out``
    (default ``runs/``) and print a table of status and time per chapter.
    ``--inplace`` stores the outputs in the chapter files themselves (for
    authors), cleaned of stderr and timing metadata.

Expected failures (unknown chapter, missing folder) print one line and exit
with status 2; a chapter that fails makes the exit status 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from homl_cv import config


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
    """Drop what must not be stored: stderr streams and execution timing."""
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs
                            if not (o.output_type == "stream" and o.name == "stderr")]
    nb.metadata.pop("widgets", None)


def _absolute_paths_in(nb) -> list:
    roots = {str(Path.home()), str(Path(__file__).resolve().parents[1])}
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            text = str(out.get("text", "")) + str(out.get("data", {}).get("text/plain", ""))
            if any(root in text for root in roots):
                found.append(i)
    return found


def execute_notebook(path: Path, out_path: Path, timeout: int) -> None:
    """Run one notebook in a fresh kernel (cwd = its folder) with a cell progress bar."""
    import nbformat
    from nbclient import NotebookClient
    from tqdm.auto import tqdm

    nb = nbformat.read(path, as_version=4)
    code_cells = sum(c.cell_type == "code" for c in nb.cells)
    with tqdm(total=code_cells, desc=path.stem, unit="cell", leave=False) as bar:
        client = NotebookClient(
            nb, timeout=timeout, kernel_name="python3", record_timing=False,
            resources={"metadata": {"path": str(path.parent)}},
            on_cell_executed=lambda **_: bar.update(1),
        )
        try:
            client.execute()
        finally:
            clean_notebook(nb)
            out_path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, out_path)
    leaked = _absolute_paths_in(nb)
    if leaked:
        print(f"warning: {path.name}: outputs of cells {leaked} contain absolute paths.")


def cmd_run(args) -> int:
    os.environ[config.QUICK_ENV] = "1" if args.quick else "0"
    os.environ[config.OFFLINE_ENV] = "1" if args.offline else "0"
    chapters_dir = Path(args.chapters_dir) if args.chapters_dir else default_chapters_dir()
    notebooks = find_chapters(args.chapters, chapters_dir, solutions=args.solutions)
    if not notebooks:
        raise UsageError(f"No chapter notebooks found in {chapters_dir}.")
    out_dir = Path(args.out)
    mode = f"{'quick' if args.quick else 'full'}, {'offline' if args.offline else 'online'}"
    print(f"Running {len(notebooks)} notebook(s) in {mode} mode.")
    rows, failed = [], 0
    for nb_path in notebooks:
        target = nb_path if args.inplace else out_dir / nb_path.relative_to(chapters_dir)
        start = time.perf_counter()
        try:
            execute_notebook(nb_path, target, args.timeout)
            status = "ok"
        except Exception as exc:  # noqa: BLE001 - report and go on with the next chapter
            failed += 1
            status = f"FAILED: {type(exc).__name__}: {str(exc).strip().splitlines()[-1][:80]}"
        rows.append((nb_path.stem, status, time.perf_counter() - start))
        print(f"  {nb_path.stem:<32} {status:<10} {rows[-1][2]:7.1f} s")
    print(f"\n{'chapter':<34}{'status':<10}{'time':>9}")
    for name, status, seconds in rows:
        print(f"{name:<34}{status.split(':')[0]:<10}{seconds:8.1f}s")
    where = "in place" if args.inplace else f"in {out_dir}/"
    print(f"{len(rows) - failed} ok, {failed} failed; executed notebooks written {where}.")
    return 1 if failed else 0


# ----------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="homl-cv", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="execute chapters headless")
    run.add_argument("chapters", nargs="*", help="chapter numbers or names (default: all)")
    run.add_argument("--quick", action=argparse.BooleanOptionalAction, default=True,
                     help="small data, few epochs (default: --quick)")
    run.add_argument("--offline", action=argparse.BooleanOptionalAction, default=None,
                     help="never download (default: on with --quick, off with --no-quick)")
    run.add_argument("--full", dest="quick", action="store_false", help="same as --no-quick")
    run.add_argument("--out", default="runs", help="folder for executed notebooks (default: runs)")
    run.add_argument("--inplace", action="store_true", help="store outputs in the chapter files")
    run.add_argument("--solutions", action="store_true", help="also run chapters/solutions/")
    run.add_argument("--chapters-dir", help="folder of the chapter notebooks")
    run.add_argument("--timeout", type=int, default=1800, help="seconds per cell (default: 1800)")
    run.set_defaults(func=cmd_run)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "offline", False) is None:
        args.offline = args.quick
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"homl-cv: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
