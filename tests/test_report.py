"""radkit.report: model cards built from measured numbers, saved safely; and the per-finding and subgroup tables."""

from __future__ import annotations

import numpy as np
import pytest

from radkit import evaluate, report
from radkit.errors import RadkitError


def _measured():
    rng = np.random.default_rng(0)
    y = np.array([0, 1] * 60)
    p = np.clip(y * 0.3 + rng.random(len(y)) * 0.7, 0, 1)
    return y, p, report.measure("test films", y, p, n_boot=100)


def _card(rows, subgroups=None):
    return report.model_card("demo", "Teaching.", ["Diagnosis."], "Phantoms.", rows, subgroups=subgroups,
                             shortcuts=["the view"], date="2026-01-01")


# Catches: a metric dropped from the card, or a number printed with other digits than measured.
def test_card_contains_every_measured_number_and_its_sections():
    y, p, rows = _measured()
    groups = evaluate.subgroups(y, p, {"sex": np.array(["F", "M"] * 60)}, n_boot=100)
    card = _card(rows, groups)
    assert card.missing(rows) == []
    for heading in ("## Intended use", "## Not for use", "## Training data", "## Performance, as measured",
                    "## Subgroups", "## Known shortcuts", "date: 2026-01-01", "numpy: "):
        assert heading in card.markdown
    assert f"{rows[0]['estimate']:.3f} ({rows[0]['low']:.3f} to {rows[0]['high']:.3f})" in card.markdown
    assert evaluate.format_interval(groups[0]["auc"]) in card.markdown
    fake = dict(rows[0], estimate=0.1234)
    assert card.missing([fake]) == [fake]


def test_card_needs_measured_numbers():
    with pytest.raises(RadkitError, match="at least one measured metric"):
        _card([])
    with pytest.raises(RadkitError, match="bootstrap_ci"):
        report.metric("AUC", "test", 0.9)


# Catches: a card overwriting the user's own file, or leaving a half-written file behind.
def test_save_beside_a_model_and_never_overwrite_a_foreign_file(tmp_path):
    _, _, rows = _measured()
    card = _card(rows)
    path = card.save_beside(tmp_path / "models" / "m.keras")
    assert path.name == "m.model_card.md" and path.read_text(encoding="utf-8") == card.markdown
    assert card.save(path) == path  # its own card may be rewritten
    mine = tmp_path / "notes.md"
    mine.write_text("my own notes\n", encoding="utf-8")
    with pytest.raises(RadkitError, match="not written by RadKit"):
        card.save(mine)
    assert mine.read_text(encoding="utf-8") == "my own notes\n"
    assert not list(tmp_path.rglob("*.partial"))


# Catches: per-finding AUCs computed on the wrong column, or findings with few positives marked as judged.
def test_per_finding_uses_each_column_and_flags_few_positives():
    rng = np.random.default_rng(1)
    y = np.zeros((200, 2), int)
    y[:100, 0] = 1
    y[:3, 1] = 1
    p = np.column_stack([y[:, 0] * 0.6 + rng.random(200) * 0.4, rng.random(200)])
    rows = evaluate.per_finding(y, p, ["common", "rare"], min_positives=20, n_boot=100)
    assert rows[0]["estimate"] == pytest.approx(evaluate.auc(y[:, 0], p[:, 0]))
    assert rows[0]["judged"] and not rows[1]["judged"] and rows[1]["positives"] == 3
    assert rows[1]["high"] - rows[1]["low"] > rows[0]["high"] - rows[0]["low"]
    with pytest.raises(RadkitError, match="findings"):
        evaluate.per_finding(y, p, ["only one name"])


# Catches: subgroup rows mixing films of other groups, or a crash on a group with one kind of film.
def test_subgroups_measure_each_group_alone():
    y = np.array([0, 1, 0, 1, 1, 1])
    p = np.array([0.1, 0.9, 0.2, 0.8, 0.7, 0.6])
    rows = evaluate.subgroups(y, p, {"view": np.array(["AP", "AP", "AP", "AP", "PA", "PA"])}, n_boot=50)
    ap, pa = rows
    assert (ap["n"], ap["positives"], pa["n"], pa["positives"]) == (4, 2, 2, 2)
    assert ap["auc"]["estimate"] == 1.0 and np.isnan(pa["auc"]["estimate"])
    assert pa["sensitivity"]["estimate"] == 1.0 and np.isnan(pa["specificity"]["estimate"])


# Bug caught: the browser app's "About this model" losing the not-for-use list, an interval, or showing a
# row about another model (e.g. the model it replaces) as this model's headline number.
def test_card_summary_reads_back_what_the_page_shows():
    rows = [report.metric("AUC", "test films", {"estimate": 0.9, "low": 0.85, "high": 0.95}, n=120),
            report.metric("AUC", "test films", {"estimate": 0.7, "low": 0.6, "high": 0.8}, n=120, model="old model")]
    card = report.model_card("m", intended_use="Teaching only.\nNot a device.", not_for_use=["Diagnosis.", "Children."],
                             training_data="phantoms", metrics=rows, date="2026-11-29")
    summary = report.card_summary(card.markdown)
    assert summary["name"] == "m" and summary["intended_use"] == "Teaching only. Not a device."
    assert summary["not_for_use"] == ["Diagnosis.", "Children."] and summary["date"] == "2026-11-29"
    assert summary["metrics"] == [{"model": "this model", "data": "test films", "metric": "AUC",
                                   "estimate": "0.900 (0.850 to 0.950)", "films": "120"}]
    with pytest.raises(RadkitError, match="not a model card"):
        report.card_summary("# Notes\n\nsome text")
