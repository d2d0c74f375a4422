"""`homl-cv run`: chapter selection, execution in a fresh kernel, clean outputs, exit codes."""

import os

import nbformat
import pytest

from homl_cv import cli


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.fixture()
def chapters(tmp_path):
    folder = tmp_path / "chapters"
    folder.mkdir()
    _notebook(folder / "01_first.ipynb",
              "import os, sys\nprint('mode', os.environ['HOML_CV_QUICK'], os.environ['HOML_CV_OFFLINE'])",
              "print('to stderr', file=sys.stderr)")
    _notebook(folder / "02_broken.ipynb", "raise RuntimeError('boom')")
    return folder


def test_selection_by_number_and_name(chapters):
    found = cli.find_chapters(["1", "02_broken"], chapters)
    assert [p.name for p in found] == ["01_first.ipynb", "02_broken.ipynb"]
    assert len(cli.find_chapters([], chapters)) == 2


def test_unknown_chapter_is_one_clear_line(chapters, capsys):
    assert cli.main(["run", "07", "--chapters-dir", str(chapters)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("homl-cv: Unknown chapter '07'. Available: 01_first, 02_broken")
    assert "\n" not in err


def test_missing_chapters_folder(tmp_path, capsys):
    assert cli.main(["run", "--chapters-dir", str(tmp_path / "none")]) == 2
    assert "No chapters folder" in capsys.readouterr().err


def test_run_writes_clean_executed_notebooks_and_reports(chapters, tmp_path, capsys):
    out = tmp_path / "runs"
    status = cli.main(["run", "01", "--chapters-dir", str(chapters), "--out", str(out)])
    assert status == 0
    nb = nbformat.read(out / "01_first.ipynb", as_version=4)
    assert nb.cells[0].outputs[0]["text"] == "mode 1 1\n"  # quick + offline by default
    assert nb.cells[1].outputs == []  # stderr is not stored
    assert all("execution" not in cell.metadata for cell in nb.cells)
    report = capsys.readouterr().out
    assert "01_first" in report and "1 ok, 0 failed" in report


def test_full_mode_and_failures_give_exit_status_1(chapters, tmp_path, capsys):
    out = tmp_path / "runs"
    before = {k: os.environ.get(k) for k in ("HOML_CV_QUICK", "HOML_CV_OFFLINE")}
    status = cli.main(["run", "--full", "--chapters-dir", str(chapters), "--out", str(out)])
    assert status == 1
    # The mode reaches the kernels only; later notebooks (nbval) must not inherit it.
    assert {k: os.environ.get(k) for k in before} == before
    nb = nbformat.read(out / "01_first.ipynb", as_version=4)
    assert nb.cells[0].outputs[0]["text"] == "mode 0 0\n"  # --full implies online
    report = capsys.readouterr().out
    assert "FAILED" in report and "1 ok, 1 failed" in report
