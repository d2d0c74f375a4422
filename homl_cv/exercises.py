"""Auto-checked exercises: ``check("01.2", answer)`` prints correct or a hint.

Each chapter's exercises live in ``homl_cv/exercise_data/NN.json``::

    {"01.2": {"question": "...", "answer": 15200, "rtol": 0.001,
              "hint": "...", "mistakes": [{"answer": 15000, "hint": "..."}]}}

``answer`` is a number, a list of numbers (compared element-wise) or a string
(compared without case or surrounding spaces). ``mistakes`` lists plausible
wrong answers with a hint aimed at the slip behind each; the tests check that
every one is rejected and that the worked answer is accepted.

Example:
    >>> from homl_cv.exercises import check
    >>> check("01.3", 903_400)  # doctest: +SKIP
    ✅ 01.3 correct.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from importlib import resources

import numpy as np

__all__ = [
    "Exercise",
    "all_exercises",
    "chapter_exercises",
    "check",
    "feedback",
    "get",
    "is_correct",
]


@dataclasses.dataclass(frozen=True)
class Exercise:
    id: str
    question: str
    answer: object
    hint: str
    rtol: float = 1e-3
    mistakes: tuple = ()

    def matches(self, value, expected=None) -> bool:
        """Whether ``value`` equals ``expected`` (default: the answer)."""
        expected = self.answer if expected is None else expected
        if isinstance(expected, str):
            return isinstance(value, str) and value.strip().lower() == expected.strip().lower()
        try:
            got = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            return False
        want = np.asarray(expected, dtype=np.float64)
        return got.shape == want.shape and bool(np.allclose(got, want, rtol=self.rtol, atol=0))


@functools.lru_cache(maxsize=None)
def all_exercises() -> dict:
    found = {}
    for entry in resources.files("homl_cv.exercise_data").iterdir():
        if not entry.name.endswith(".json"):
            continue
        for ex_id, spec in json.loads(entry.read_text(encoding="utf-8")).items():
            mistakes = tuple((m["answer"], m["hint"]) for m in spec.get("mistakes", ()))
            found[ex_id] = Exercise(ex_id, spec["question"], spec["answer"], spec["hint"],
                                    spec.get("rtol", 1e-3), mistakes)
    return found


def get(exercise_id: str) -> Exercise:
    """The :class:`Exercise` with this id (e.g. ``"01.2"``)."""
    exercises = all_exercises()
    if exercise_id not in exercises:
        raise ValueError(
            f"exercise_id={exercise_id!r} is unknown; known ids: {', '.join(sorted(exercises))}."
        )
    return exercises[exercise_id]


def chapter_exercises(chapter: str) -> list:
    """All exercises of a chapter (``"01"``), in order."""
    return [ex for ex_id, ex in sorted(all_exercises().items()) if ex_id.split(".")[0] == chapter]


def is_correct(exercise_id: str, answer) -> bool:
    """Whether ``answer`` is the right answer to the exercise (no printing)."""
    return answer is not None and get(exercise_id).matches(answer)


def feedback(exercise_id: str, answer) -> str:
    """The line :func:`check` prints: correct, not answered yet, or a hint."""
    ex = get(exercise_id)
    if answer is None:
        return f"⏳ {exercise_id}: no answer yet. Replace None with your answer and run the cell again."
    if ex.matches(answer):
        return f"✅ {exercise_id} correct."
    hint = next((h for wrong, h in ex.mistakes if ex.matches(answer, wrong)), ex.hint)
    return f"❌ {exercise_id}: not yet. Hint: {hint}"


def check(exercise_id: str, answer) -> None:
    """Print whether ``answer`` is right, with a hint when it is not."""
    print(feedback(exercise_id, answer))
