"""Numbers the chapters' prose quotes agree with the stored outputs they describe.

Each row pins one number of a markdown cell to the output of a code cell: re-making a
chapter that moves the output (or editing the text) without updating the other fails here.
A row names the notebook, a text that picks out one markdown cell, the quoted text with the
number in braces, a text that picks out one code cell, a regular expression whose first group
reads the number from that cell's stored output, and a relative tolerance: None means the
output, rounded to the quoted number's digits, must equal it; a number is for the prose's
round figures ("about 60,000").
"""

import json
import re
from pathlib import Path

import pytest

CHAPTERS = Path(__file__).resolve().parents[1] / "chapters"

QUOTED = [
    # 02: parameter counts
    ("02_architectures.ipynb", "The three models. The CNN", "It has about {24,000} parameters",
     "def build_small_cnn(input_shape)", r"^total\s+([\d,]+)", 0.01),
    ("02_architectures.ipynb", "almost all in C5 and F6", "About {60,000} parameters",
     "lenet = models.build_lenet5(input_shape=(28, 28, 1)", r"^total\s+([\d,]+)", 0.03),
    ("02_architectures.ipynb", "the paper says \"60 million\"", "{87}% of them",
     "dense = sum(alex.get_layer(name)", r"fc6 \+ fc7: [\d,]+ of [\d,]+ parameters \((\d+)%\)", None),
    ("02_architectures.ipynb", "the paper says \"60 million\"", "({54.5} million, the last line above)",
     "dense = sum(alex.get_layer(name)", r"fc6 \+ fc7: ([\d,]+) of", 1e-3),
    ("02_architectures.ipynb", "So ResNet-34 with a 1,000-way head", "about {21.8} million trainable parameters",
     "resnet = models.build_resnet34()", r"parameters counted by Keras: ([\d,]+) trainable", 3e-3),
    ("02_architectures.ipynb", "## A slim ResNet-34 on the same digits", "only about {340,000} parameters",
     "small_resnet = models.build_resnet34((28, 28, 1)", r"^([\d,]+) parameters", 0.01),
    # 03: the numbers behind the loss and mixed precision
    ("03_transfer_learning.ipynb", "a head that still guesses uniformly", r"$\log 5 \approx {1.609}$",
     "by_hand = -np.mean(np.log(probs", r"log 5 = ([\d.]+)", None),
    ("03_transfer_learning.ipynb", "**Mixed precision.**", "its largest value is {65,504}",
     "f16 = np.finfo(np.float16)", r"float16: max ([\d,]+)", None),
    # 06: segmentation scores, mask head, super-resolution
    ("06_segmentation.ipynb", "FCN-32s can only paint blurry blobs", "(mean IoU {0.56})",
     "results = {name: seg.evaluate_segmentation", r"^FCN-32s\s+([\d.]+)", None),
    ("06_segmentation.ipynb", "FCN-32s can only paint blurry blobs", "FCN-16s {0.68}",
     "results = {name: seg.evaluate_segmentation", r"^FCN-16s\s+([\d.]+)", None),
    ("06_segmentation.ipynb", "FCN-32s can only paint blurry blobs", "FCN-8s {0.75}",
     "results = {name: seg.evaluate_segmentation", r"^FCN-8s\s+([\d.]+)", None),
    ("06_segmentation.ipynb", "FCN-32s can only paint blurry blobs", "outlines apart ({0.95})",
     "results = {name: seg.evaluate_segmentation", r"^U-Net\s+([\d.]+)", None),
    ("06_segmentation.ipynb", "The trained head separates each object", "{0.90} mean mask IoU",
     "\"trained head\": inst.evaluate_masks", r"^trained head\s+\d+ instances \| mean mask IoU ([\d.]+)", None),
    ("06_segmentation.ipynb", "The trained head separates each object", "over {245} held-out objects",
     "\"trained head\": inst.evaluate_masks", r"^trained head\s+(\d+) instances", None),
    ("06_segmentation.ipynb", "The trained head separates each object", "against {0.69} for",
     "\"trained head\": inst.evaluate_masks", r"^whole box\s+\d+ instances \| mean mask IoU ([\d.]+)", None),
    ("06_segmentation.ipynb", "The trained head separates each object", "({0.95} for squares",
     "\"trained head\": inst.evaluate_masks", r"^whole box.*\n\s+per class: circle [\d.]+, square ([\d.]+)", None),
    ("06_segmentation.ipynb", "The trained head separates each object", "but {0.51} for triangles",
     "\"trained head\": inst.evaluate_masks",
     r"^whole box.*\n\s+per class: circle [\d.]+, square [\d.]+, triangle ([\d.]+)", None),
    ("06_segmentation.ipynb", "The trained head separates each object", "{0.48} for the untrained head",
     "\"trained head\": inst.evaluate_masks", r"^untrained head\s+\d+ instances \| mean mask IoU ([\d.]+)", None),
    ("06_segmentation.ipynb", "The trained head separates each object", "Training adds {0.42}",
     "\"trained head\": inst.evaluate_masks", r"^trained minus untrained head ([\d.]+)", None),
    ("06_segmentation.ipynb", "The sub-pixel network beats bicubic", "({34.4} dB against",
     "sr_scores = sr.evaluate_superres(", r"sub-pixel CNN ([\d.]+) dB", None),
    ("06_segmentation.ipynb", "The sub-pixel network beats bicubic", "against {33.8} dB for bicubic",
     "sr_scores = sr.evaluate_superres(", r"bicubic ([\d.]+) dB", None),
    # 07: how the shapes model fails (rare subgroup, out of distribution, occlusion)
    ("07_inside_cnn.ipynb", "Trained with 24 striped shapes among 800", "striped accuracy is {0.13} here",
     "rare_gap = claim(", r"plain minus striped accuracy ([\d.]+) >=", None),
    ("07_inside_cnn.ipynb", "Trained with 24 striped shapes among 800", "the gap shrinks by {0.13}",
     "rare_gap = claim(", r"the balanced one's\) ([\d.]+) >=", None),
    ("07_inside_cnn.ipynb", "The model has never seen a digit", "a share of {0.53} of",
     "confident_ood = claim(", r"confidence > 0.9 ([\d.]+) >=", None),
    ("07_inside_cnn.ipynb", "The model has never seen a digit", "detector is {0.56}, hardly better",
     "confident_ood = claim(", r"in vs out of distribution ([\d.]+) <=", None),
    ("07_inside_cnn.ipynb", "Hiding a tenth of the box", "box costs {0.56} (the claim",
     "half_hidden = claim(", r"half of each box is hidden ([\d.]+) >=", None),
    ("07_inside_cnn.ipynb", "Hiding a tenth of the box", "the accuracy is {0.27}, near chance",
     "half_hidden = claim(", r"the whole box hidden ([\d.]+) <=", None),
    # 10: what drop_remainder drops
    ("10_distributed_training.ipynb", "**`drop_remainder=True`.**", "batches of 64 leave {17})",
     "static = all_digits.batch(64, drop_remainder=True)", r"images skipped per epoch: (\d+)", None),
]


def _squeeze(text: str) -> str:
    return " ".join(text.split())


def _one_cell(notebook: str, kind: str, marker: str) -> dict:
    cells = json.loads((CHAPTERS / notebook).read_text(encoding="utf-8"))["cells"]
    hits = [c for c in cells if c["cell_type"] == kind and _squeeze(marker) in _squeeze("".join(c["source"]))]
    assert len(hits) == 1, f"{notebook}: {len(hits)} {kind} cells contain {marker!r}; the marker must pick one"
    return hits[0]


def _output_text(cell: dict) -> str:
    return "".join("".join(out.get("text", "")) + "".join(out.get("data", {}).get("text/plain", ""))
                   for out in cell.get("outputs", []))


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def quoted_matches_output(quoted: str, output: float, rel_tol) -> bool:
    """Whether the number in braces in ``quoted`` states ``output`` (see the module docstring)."""
    number = re.search(r"\{([\d.,]+)\}", quoted).group(1)
    value = _number(number)
    if "million" in quoted.split("}", 1)[1][:9]:
        value *= 1e6
    if rel_tol is not None:
        return abs(output - value) <= rel_tol * abs(value)
    digits = len(number.split(".")[1]) if "." in number else 0
    return round(output, digits) == value


@pytest.mark.parametrize("notebook, md_marker, quoted, code_marker, pattern, rel_tol", QUOTED,
                         ids=[f"{row[0][:2]}:{row[2]}" for row in QUOTED])
def test_quoted_number_matches_the_output_it_describes(notebook, md_marker, quoted, code_marker, pattern,
                                                       rel_tol):
    text = _squeeze("".join(_one_cell(notebook, "markdown", md_marker)["source"]))
    assert quoted.replace("{", "").replace("}", "") in text, f"{notebook}: the prose no longer says {quoted!r}"
    output = _output_text(_one_cell(notebook, "code", code_marker))
    assert output, f"{notebook}: the cell with {code_marker!r} has no stored output; re-make the chapter"
    found = re.search(pattern, output, re.MULTILINE)
    assert found, f"{notebook}: {pattern!r} finds nothing in the output of the cell with {code_marker!r}"
    assert quoted_matches_output(quoted, _number(found.group(1)), rel_tol), (
        f"{notebook}: the prose says {quoted!r}, the output says {found.group(1)}")


def test_enough_pairs_across_chapters():
    assert len(QUOTED) >= 10 and len({row[0] for row in QUOTED}) >= 4


def test_the_comparison_rejects_a_drifted_number():
    # exact rows: the output rounded to the quoted digits, in both directions
    assert quoted_matches_output("{0.91} mean", 0.91, None)
    assert quoted_matches_output("{1.609}", 1.6094, None)
    assert not quoted_matches_output("{0.91} mean", 0.92, None)
    assert not quoted_matches_output("{0.91} mean", 0.90, None)
    assert not quoted_matches_output("{0.59} mean", 0.91, None)  # chapter 06's old text
    # round figures: the tolerance is relative, at equality accepted
    assert quoted_matches_output("about {60,000} parameters", 61_800, 0.03)
    assert not quoted_matches_output("about {60,000} parameters", 61_801, 0.03)
    assert not quoted_matches_output("about {60,000} parameters", 58_199, 0.03)
    assert quoted_matches_output("{21.8} million", 21_797_672, 3e-3)
    assert not quoted_matches_output("{21.8} million", 21_797_672 / 1e6, 3e-3)
