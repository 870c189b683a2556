"""The blind second reading of BCCD's test smears (radkit/boxes/bccd_second_reading.csv), which notebook 07
and the detection benchmark set beside BCCD's own counts: it must cover exactly the test smears, and the
benchmark's comparison must count agreement the way the README reports it."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import detection  # noqa: E402  (benchmarks/detection.py)

from radkit import boxes  # noqa: E402


def test_the_reading_covers_exactly_the_bccd_test_smears(shared_data):
    listed = shared_data / "bccd" / "BCCD" / "ImageSets" / "Main" / "test.txt"
    if not listed.exists():
        pytest.skip("BCCD is not in the shared data")
    files = [f"{name}.jpg" for name in listed.read_text().split()]
    reading = boxes.second_reading(files)
    counts = ("white_A", "white_B", "red_whole_C", "red_cut_C", "red_whole_D", "red_cut_D")
    assert set(reading) == set(counts) | {"notes_A", "notes_B", "notes_C", "notes_D"}
    for column in counts:
        assert len(reading[column]) == 72 and reading[column].min() >= 0
    assert len(reading["notes_A"]) == 72 and all(isinstance(note, str) for note in reading["notes_A"])
    with open(boxes.datasets.SECOND_READING, encoding="utf-8") as f:
        assert len(f.read().splitlines()) == 1 + 72          # no smear beyond the test list
    # In the order asked for, not the file's: reversing the smears reverses the counts.
    backwards = boxes.second_reading(files[::-1])
    assert all(np.array_equal(backwards[c], reading[c][::-1]) for c in reading)
    # A smear the readers never saw (a training smear, a practice smear): no reading, not a half one.
    assert boxes.second_reading(files[:3] + ["BloodImage_00000.jpg"]) is None
    assert boxes.second_reading(["smear_0000"]) is None


def test_comparison_with_the_readers_counted_by_hand():
    # Three smears. White cells: A 1, 2, 1; B 1, 2, 2 (they agree on two); BCCD 1, 1, 1; detector 1, 2, 0.
    reading = {"white_A": np.array([1, 2, 1]), "white_B": np.array([1, 2, 2]),
               "red_whole_C": np.array([10, 20, 8]), "red_cut_C": np.array([2, 2, 2]),
               "red_whole_D": np.array([10, 16, 12]), "red_cut_D": np.array([4, 2, 0])}
    truth = np.array([[5, 1, 0], [20, 1, 0], [10, 1, 0]])
    counted = np.array([[9, 1, 0], [18, 2, 0], [10, 0, 0]])
    found = detection.compare_with_readers(reading, truth, counted, counted, yardstick=12)
    assert found["white cells: readers A and B agree"] == "2 of 3 smears"
    assert found["white cells: BCCD agrees with reader A"] == "2 of 3 smears"
    assert found["WBC exact against reader A"] == round(2 / 3, 3)
    # Whole red cells, D against C: 0, 4/20, 4/8 off -> mean 0.233.
    assert found["red cells wholly inside, reader D vs reader C: mean relative difference, correlation"][0] == 0.233
    # With the cut ones: D 14, 18, 12 against C 12, 22, 10 -> 2/12, 4/22, 2/10 -> 0.183.
    assert found["red cells with those cut by the edge, reader D vs reader C"][0] == 0.183
    # The readers' mean of whole cells is 10, 18, 10: BCCD is 5/10, 2/18, 0 off -> 0.204; the detector 1/10, 0, 0.
    assert found["BCCD vs the readers' mean of whole red cells"][0] == 0.204
    assert found["RBC counted by threshold vs the readers' mean of whole red cells"][0] == 0.033
    # A blind count of 12 against 10, 18, 10: 0.2, 1/3, 0.2 off -> 0.244.
    assert found["always saying 12 vs the readers' mean of whole red cells"] == 0.244
