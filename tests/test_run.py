"""`homl-cv run`: chapter selection, execution in a fresh kernel, clean outputs, exit codes."""

import os
import sys

import nbformat
import pytest

from homl_cv import cli, config


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
              "print('to stderr', file=sys.stderr)",
              "os.write(2, b'native noise from the kernel process\\n');")
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


def test_full_online_mode_and_failures_give_exit_status_1(chapters, tmp_path, capfd):
    out = tmp_path / "runs"
    before = {k: os.environ.get(k) for k in ("HOML_CV_QUICK", "HOML_CV_OFFLINE")}
    status = cli.main(["run", "--full", "--online", "--chapters-dir", str(chapters), "--out", str(out)])
    assert status == 1
    # The mode reaches the kernels only; later notebooks (nbval) must not inherit it.
    assert {k: os.environ.get(k) for k in before} == before
    nb = nbformat.read(out / "01_first.ipynb", as_version=4)
    assert nb.cells[0].outputs[0]["text"] == "mode 0 0\n"
    captured = capfd.readouterr()
    assert "FAILED" in captured.out and "1 ok, 1 failed" in captured.out
    # The kernels' own stderr goes to a log per chapter, named on failure, not to the console.
    assert "native noise" not in captured.out + captured.err
    assert "native noise from the kernel process" in (out / "01_first.log").read_text()
    assert f"kernel log and error: {out / '02_broken.log'}" in captured.out
    assert "boom" in (out / "02_broken.log").read_text()


def test_full_and_online_are_separate_switches():
    parser = cli.build_parser()
    defaults = parser.parse_args(["run"])
    assert defaults.quick and defaults.offline
    full = parser.parse_args(["run", "--full", "03"])
    assert not full.quick and full.offline and full.chapters == ["03"]
    online = parser.parse_args(["run", "--online"])
    assert online.quick and not online.offline
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "--quick", "--full"])


def test_inplace_writes_only_after_success(chapters, tmp_path):
    broken = chapters / "02_broken.ipynb"
    original = broken.read_bytes()
    out = tmp_path / "runs"
    status = cli.main(["run", "--inplace", "--chapters-dir", str(chapters), "--out", str(out)])
    assert status == 1
    assert broken.read_bytes() == original  # the failed chapter is untouched
    assert nbformat.read(out / "02_broken.ipynb", as_version=4).cells[0].outputs  # partial run
    first = nbformat.read(chapters / "01_first.ipynb", as_version=4)
    assert first.cells[0].outputs[0]["text"] == "mode 1 1\n"  # the good one is stored
    assert sorted(p.name for p in chapters.iterdir()) == ["01_first.ipynb", "02_broken.ipynb"]


def test_runner_tools_missing_is_one_clear_line(chapters, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "nbclient", None)  # makes the import fail
    assert cli.main(["run", "01", "--chapters-dir", str(chapters)]) == 2
    err = capsys.readouterr().err.strip()
    assert "needs nbclient" in err and "homl-cv[runner]" in err and "\n" not in err


def _png(width, height):
    import base64
    import io

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    pixels = (rng.random((height, width, 3)) * 255).astype("uint8")
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def test_clean_notebook_shrinks_images_and_strips_ansi_and_widgets():
    import base64
    import io

    from PIL import Image

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("...")
    big = _png(1400, 200)
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout",
                               text="\x1b[1mModel\x1b[0m 12%\x08\x08\x0850%\n"),
        nbformat.v4.new_output("display_data", data={"image/png": big, "text/plain": "<Figure>"}),
        nbformat.v4.new_output("display_data", data={
            cli.WIDGET_MIME: {"model_id": "abc"}, "text/plain": "bar:   0%| | 0/40"}),
        nbformat.v4.new_output("display_data", data={cli.WIDGET_MIME: {"model_id": "def"}}),
        nbformat.v4.new_output("stream", name="stderr", text="a warning\n"),
    ]
    nb.cells = [cell]
    nb.metadata["widgets"] = {"state": {}}
    cli.clean_notebook(nb)
    outs = nb.cells[0].outputs
    assert len(outs) == 3 and "widgets" not in nb.metadata
    assert outs[0]["text"] == "Model 50%\n"
    png = outs[1]["data"]["image/png"]
    assert len(png) < len(big)
    assert Image.open(io.BytesIO(base64.b64decode(png))).width == cli.MAX_IMAGE_WIDTH
    assert outs[2]["data"] == {"text/plain": "bar:   0%| | 0/40"}


def test_plain_text_applies_backspaces_and_drops_ansi():
    assert cli.plain_text("\x1b[32;1mok\x1b[0m") == "ok"
    assert cli.plain_text("ab\x08c\n\x08d") == "ac\nd"
    assert cli.plain_text("1/5 \x1b[2K\r2/5") == "1/5 \r2/5"


def test_atomic_write_leaves_no_temporary_file(tmp_path):
    nb = nbformat.v4.new_notebook()
    target = tmp_path / "deep" / "x.ipynb"
    cli.write_notebook_atomically(nb, target)
    cli.write_notebook_atomically(nb, target)
    assert [p.name for p in target.parent.iterdir()] == ["x.ipynb"]
    assert nbformat.read(target, as_version=4).cells == []


def test_rehearse_runs_the_kernels_in_rehearsal_mode_on_a_temporary_data_dir(tmp_path, monkeypatch):
    from homl_cv import rehearsal

    folder = tmp_path / "chapters"
    folder.mkdir()
    _notebook(folder / "01_env.ipynb",
              "import os\nprint(*[os.environ[k] for k in ('HOML_CV_REHEARSE', 'HOML_CV_QUICK', "
              "'HOML_CV_OFFLINE', 'HOML_CV_NO_NETWORK')])")
    roots = []

    def environment(root):  # the stand-ins themselves are tested in test_rehearsal.py
        roots.append(root)
        return {"HOML_CV_REHEARSE": "1", "HOML_CV_QUICK": "0", "HOML_CV_OFFLINE": "0",
                "HOML_CV_NO_NETWORK": "1", "HOML_CV_DATA_DIR": str(root)}

    monkeypatch.setattr(rehearsal, "rehearsal_environment", environment)
    out = tmp_path / "runs"
    assert cli.main(["run", "--rehearse", "--chapters-dir", str(folder), "--out", str(out)]) == 0
    nb = nbformat.read(out / "01_env.ipynb", as_version=4)
    assert nb.cells[0].outputs[0]["text"] == "1 0 0 1\n"
    assert not os.path.exists(roots[0])  # the temporary data dir is gone


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_chapters_side_by_side_report_in_chapter_order(chapters, tmp_path, capsys, jobs):
    # -j 2 starts the larger notebook first; the table still lists the chapters in order
    out = tmp_path / "runs"
    assert cli.main(["run", "-j", jobs, "--chapters-dir", str(chapters), "--out", str(out)]) == 1
    table = capsys.readouterr().out.split("\nchapter")[1]
    assert table.index("01_first") < table.index("02_broken")
    assert "1 ok, 1 failed in" in table
    assert (out / "01_first.ipynb").exists()


@pytest.mark.parametrize("jobs, threads", [("1", "unset"), ("2", str(max(1, (os.cpu_count() or 1) // 2)))])
def test_kernels_side_by_side_share_the_cores(tmp_path, monkeypatch, jobs, threads):
    # -j 2: each kernel's TensorFlow gets its share of the cores; -j 1 leaves TensorFlow's default
    for name in config.THREAD_ENVS:
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "chapters"
    folder.mkdir()
    for stem in ("01_a", "02_b"):
        _notebook(folder / f"{stem}.ipynb",
                  "import os\nprint(os.environ.get('TF_NUM_INTRAOP_THREADS', 'unset'), "
                  "os.environ.get('TF_NUM_INTEROP_THREADS', 'unset'))")
    out = tmp_path / "runs"
    assert cli.main(["run", "-j", jobs, "--chapters-dir", str(folder), "--out", str(out)]) == 0
    for stem in ("01_a", "02_b"):
        printed = nbformat.read(out / f"{stem}.ipynb", as_version=4).cells[0].outputs[0]["text"]
        assert printed == (f"{threads} 1\n" if jobs == "2" else "unset unset\n")
