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
        + [("peak", "float32 matmul")]
    )
    peak = rows[-1].gflop_per_s
    assert peak > 0 and f"{peak:.1f} GFLOP/s" in rows[-1].note
    for row in rows[:-1]:
        if row.part == "training" and row.images_per_s is not None:   # achieved = 3 x FLOPs x images/s
            flops = bench.transfer_model_flops(TINY.base, TINY.train_size)
            assert row.gflop_per_s == pytest.approx(3 * flops * row.images_per_s / 1e9)
            assert f"{row.gflop_per_s / peak:.0%} of the float32 matmul peak" in row.note
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


def test_model_flops_by_hand_for_each_layer_kind():
    import keras

    L = keras.layers
    inputs = keras.Input((8, 8, 4))
    x = L.Conv2D(6, 3)(inputs)                                   # 6x6x6 out: 2*36*6*9*4 = 15,552
    x = L.Conv2D(6, 1, groups=3)(x)                              # 2*36*6*1*6/3 = 864
    x = L.DepthwiseConv2D(3, padding="same")(x)                  # 2*36*6*9 = 3,888
    x = L.SeparableConv2D(5, 3, padding="same")(x)               # 2*36*6*9 + 2*36*6*5 = 3,888 + 2,160
    x = L.Conv2DTranspose(2, 2, strides=2)(x)                    # input 6x6x5: 2*180*4*2 = 2,880
    x = L.Dense(3)(x)                                            # at 12x12 positions: 2*144*2*3 = 1,728
    inner = keras.Model(inputs, x)
    outer = keras.Sequential([keras.Input((8, 8, 4)), inner, L.Flatten(), L.Dense(2)])  # 2*432*2 = 1,728
    assert bench.model_flops(inner) == 15552 + 864 + 3888 + 3888 + 2160 + 2880 + 1728
    assert bench.model_flops(outer) == bench.model_flops(inner) + 1728    # nested models counted
    plain = keras.Sequential([keras.Input((8, 8, 4)), L.Conv2D(6, 1)])   # groups=1: 2*64*6*4
    grouped = keras.Sequential([keras.Input((8, 8, 4)), L.Conv2D(6, 1, groups=2)])
    assert bench.model_flops(plain) == 3072 and bench.model_flops(grouped) == 1536


def test_matmul_peak_is_two_n_cubed_per_product_over_seconds(monkeypatch):
    # fake clock: the timed call took 0.5 s, for 4 products of 64x64: 4 * 2 * 64**3 / 0.5 s
    ticks = iter([3.0, 3.5])
    monkeypatch.setattr(bench, "time", types.SimpleNamespace(perf_counter=lambda: next(ticks)))
    assert bench.matmul_peak_gflops(size=64, repeats=4) == pytest.approx(4 * 2 * 64 ** 3 / 0.5 / 1e9)
    with pytest.raises(ValueError, match=r"size=0 must be a positive integer"):
        bench.matmul_peak_gflops(size=0, repeats=4)
    with pytest.raises(ValueError, match=r"repeats=0 must be a positive integer"):
        bench.matmul_peak_gflops(size=64, repeats=0)
