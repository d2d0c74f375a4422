"""homl_cv.bench with tiny sizes: it runs, reports every row, writes markdown."""

import types

import pytest

from homl_cv import bench

TINY = bench.Sizes(pipeline_images=16, pipeline_size=32, base="MobileNetV2", train_size=32,
                   batch_size=4, train_steps=1)


@pytest.fixture(scope="module")
def rows():
    return bench.run_benchmarks(sizes=TINY, progress=False)


def test_every_variant_has_a_row(rows):
    assert [(r.part, r.variant) for r in rows] == (
        [("input pipeline", name) for name, _ in bench.PIPELINE_VARIANTS]
        + [("training", mode) for mode in bench.TRAINING_MODES]
    )
    for row in rows:
        if row.variant == "mixed precision" and row.images_per_s is None:
            assert row.note.startswith("skipped")  # CPU: no fake number
        else:
            assert row.images_per_s > 0


def test_pipeline_throughput_is_images_over_seconds(monkeypatch):
    # A fake clock that says the passes took 2 s: 2 passes x 16 images / 2 s = 16 images/s.
    # (The real figure depends on the machine; the arithmetic must not.)
    ticks = iter([10.0, 12.0])
    monkeypatch.setattr(bench, "time", types.SimpleNamespace(perf_counter=lambda: next(ticks)))
    speed = bench.pipeline_throughput(num_images=16, image_size=32, batch_size=4, passes=2,
                                      base="MobileNetV2")
    assert speed == 16.0


def test_table_and_markdown(rows, tmp_path, monkeypatch):
    table = bench.format_table(rows, device="CPU (test)")
    assert table.splitlines()[0] == "device: CPU (test)"
    assert len(table.splitlines()) == 2 + len(rows)
    markdown = bench.to_markdown(rows, device="CPU (test)")
    assert "| input pipeline | sequential map |" in markdown
    assert "`python -m homl_cv.bench`" in markdown


def test_main_writes_markdown(rows, tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(bench, "run_benchmarks", lambda quick: calls.append(quick) or rows)
    target = tmp_path / "BENCH.md"
    target.write_text("# Benchmarks\n")
    assert bench.main(["--write", str(target)]) == 0
    text = target.read_text()
    assert text.startswith("# Benchmarks\n") and "| training | XLA |" in text
    assert "device:" in capsys.readouterr().out and calls == [True]
    assert bench.main(["--write", str(tmp_path / "missing" / "B.md")]) == 2


def test_bad_arguments():
    with pytest.raises(ValueError, match="mode='fp8'"):
        bench.training_throughput("fp8")
    with pytest.raises(ValueError, match="num_images=2"):
        bench.pipeline_throughput(num_images=2, batch_size=4)
