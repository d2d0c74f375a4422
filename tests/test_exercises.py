"""Every exercise checker accepts its worked answer and rejects the listed mistakes."""

import numpy as np
import pytest

from homl_cv import data, exercises

ALL = sorted(exercises.all_exercises().values(), key=lambda ex: ex.id)


def test_exercise_files_are_found():
    assert ALL, "no exercise data found in homl_cv/exercise_data/"


@pytest.mark.parametrize("ex", ALL, ids=lambda ex: ex.id)
def test_worked_answer_is_accepted(ex, capsys):
    assert exercises.is_correct(ex.id, ex.answer)
    exercises.check(ex.id, ex.answer)
    assert capsys.readouterr().out.startswith(f"✅ {ex.id}")


def _clearly_wrong(answer):
    """An answer no checker may accept: each number moved well outside any tolerance."""
    if isinstance(answer, str):
        return answer + " not"
    if isinstance(answer, list):
        return [_clearly_wrong(a) for a in answer]
    return answer * 1.5 + 1


@pytest.mark.parametrize("ex", ALL, ids=lambda ex: ex.id)
def test_a_clearly_wrong_answer_is_rejected(ex, capsys):
    # The checker compares with the answer: one that said "correct" to anything
    # would pass the test above, never this one.
    wrong = _clearly_wrong(ex.answer)
    assert not exercises.is_correct(ex.id, wrong)
    exercises.check(ex.id, wrong)
    assert not capsys.readouterr().out.startswith(f"✅ {ex.id}")


@pytest.mark.parametrize("ex", [ex for ex in ALL if ex.mistakes], ids=lambda ex: ex.id)
def test_listed_mistakes_are_rejected_with_their_hint(ex, capsys):
    for wrong, hint in ex.mistakes:
        assert not exercises.is_correct(ex.id, wrong)
        exercises.check(ex.id, wrong)
        assert f"Hint: {hint}" in capsys.readouterr().out


@pytest.mark.parametrize("ex", ALL, ids=lambda ex: ex.id)
def test_every_exercise_is_well_formed(ex):
    assert ex.question.strip() and ex.hint.strip()
    assert not any(ex.matches(wrong) for wrong, _ in ex.mistakes), "a 'mistake' equals the answer"


def test_no_answer_yet_and_unknown_id(monkeypatch, capsys):
    fake = exercises.Exercise("00.1", "q", 4, "count again", mistakes=((5, "off by one"),))
    monkeypatch.setattr(exercises, "all_exercises", lambda: {"00.1": fake})
    assert not exercises.is_correct("00.1", None)
    exercises.check("00.1", None)
    assert "no answer yet" in capsys.readouterr().out
    exercises.check("00.1", 5)
    assert "Hint: off by one" in capsys.readouterr().out
    exercises.check("00.1", 7)
    assert "Hint: count again" in capsys.readouterr().out
    assert exercises.is_correct("00.1", 4)
    with pytest.raises(ValueError, match=r"exercise_id='99.9' must be '00.1'\."):
        exercises.check("99.9", 1)


def test_numbers_lists_and_strings():
    num = exercises.Exercise("t.1", "q", 15200, "h", rtol=1e-3)
    assert num.matches(15200) and num.matches(15200.0) and not num.matches(15000)
    assert num.matches("15200")  # a number typed as a string still counts
    vec = exercises.Exercise("t.2", "q", [3, 2], "h")
    assert vec.matches((3, 2)) and not vec.matches([3]) and not vec.matches([2, 3])
    word = exercises.Exercise("t.3", "q", "Max", "h")
    assert word.matches(" max ") and not word.matches("avg") and not word.matches(3)


class _FixedModel:
    """Predicts the given classes, whatever the images (for the classifier checker)."""

    def __init__(self, classes):
        self.classes = np.asarray(classes)

    def predict(self, images, batch_size=None, verbose=0):
        return np.eye(10)[self.classes[: len(images)]]


def _digit_splits(source, n=100):
    images = np.zeros((n, 28, 28), np.uint8)
    labels = np.arange(n) % 10
    return data.ImageSplits(images, labels, images, labels, images, labels,
                            class_names=tuple("0123456789"), source=source)


def test_check_classifier_grades_the_test_accuracy(capsys):
    digits = _digit_splits("scikit-learn digits (8x8 upscaled to 28x28, offline stand-in for MNIST)")
    labels = digits.y_test
    good = exercises.check_classifier("02.12", _FixedModel(labels), digits)
    assert good == exercises.ClassifierCheck("02.12", 1.0, 0.98, True)
    assert capsys.readouterr().out.startswith("✅ 02.12: test accuracy 1.0000 >= 0.98")

    def wrong_first(n):  # a model with the first n of the 100 test digits wrong
        return _FixedModel(np.where(np.arange(100) < n, (labels + 1) % 10, labels))

    at_bar = exercises.check_classifier("02.12", wrong_first(2), digits)  # 0.98: exactly the bar
    assert (at_bar.accuracy, at_bar.passed) == (0.98, True)
    capsys.readouterr()
    lenet_like = exercises.check_classifier("02.12", wrong_first(3), digits)  # 0.97, LeNet-5's score
    assert (lenet_like.accuracy, lenet_like.passed) == (0.97, False)
    assert "❌ 02.12: test accuracy 0.9700 < 0.98" in capsys.readouterr().out
    on_mnist = exercises.check_classifier("02.12", _FixedModel(labels), _digit_splits("mnist"))
    assert on_mnist.target == 0.992
    capsys.readouterr()
    assert exercises.check_classifier("02.12", None, digits) is None
    assert "no model yet" in capsys.readouterr().out


def test_check_classifier_rejects_other_data_and_non_models():
    with pytest.raises(ValueError, match="splits.source='fashion_mnist'"):
        exercises.check_classifier("02.12", None, _digit_splits("fashion_mnist"))
    with pytest.raises(TypeError, match="has no predict method"):
        exercises.check_classifier("02.12", "my model", _digit_splits("mnist"))


def _solution_checks():
    """(exercise id, answer expression) of every check(...) call in the solutions notebooks."""
    import ast
    import json
    from pathlib import Path

    calls = []
    for path in sorted((Path(__file__).resolve().parents[1] / "chapters" / "solutions").glob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] != "code":
                continue
            lines = "".join(cell["source"]).splitlines()
            code = "\n".join(l for l in lines if not l.lstrip().startswith(("%", "!")))
            for node in ast.walk(ast.parse(code)):
                name = getattr(node, "func", None)
                name = getattr(name, "id", getattr(name, "attr", None))
                if name == "check" and len(node.args) >= 2 and isinstance(node.args[0], ast.Constant):
                    calls.append((node.args[0].value, node.args[1]))
    return calls


def test_solutions_compute_their_answers_independently():
    # The worked answers in exercise_data/ are typed by hand; the solutions notebooks
    # (run by CI) compute each one with code and pass the result to check(), so a
    # wrong stored answer fails CI. An answer typed as a literal there would prove nothing.
    import ast

    calls = _solution_checks()
    literal = [ex_id for ex_id, arg in calls
               if all(isinstance(e, ast.Constant) for e in ([arg] if isinstance(arg, ast.Constant)
                                                            else getattr(arg, "elts", [None])))]
    assert not literal, f"solutions type these answers as literals: {literal}"
    numeric = {ex.id for ex in ALL if not isinstance(ex.answer, str)}
    computed = {ex_id for ex_id, _ in calls}
    assert numeric - computed == set(), f"no solution computes: {sorted(numeric - computed)}"
