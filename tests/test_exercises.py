"""Every exercise checker accepts its worked answer and rejects the listed mistakes."""

import pytest

from homl_cv import exercises

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
    with pytest.raises(ValueError, match="exercise_id='99.9' is unknown"):
        exercises.check("99.9", 1)


def test_numbers_lists_and_strings():
    num = exercises.Exercise("t.1", "q", 15200, "h", rtol=1e-3)
    assert num.matches(15200) and num.matches(15200.0) and not num.matches(15000)
    assert num.matches("15200")  # a number typed as a string still counts
    vec = exercises.Exercise("t.2", "q", [3, 2], "h")
    assert vec.matches((3, 2)) and not vec.matches([3]) and not vec.matches([2, 3])
    word = exercises.Exercise("t.3", "q", "Max", "h")
    assert word.matches(" max ") and not word.matches("avg") and not word.matches(3)
