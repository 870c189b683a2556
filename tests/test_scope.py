"""A model knows its scope (radkit.report.learn_scope, Scope.check): the DICOM header, colour, contrast and the
distance of the model's own features; the same numbers in the web page; and the page forgets the last patient."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from radkit import data, deploy, evaluate, models, report
from radkit.errors import RadkitError


@pytest.fixture(scope="module")
def course():
    """The shipped course classifier and a scope learned from PneumoniaMNIST (real when present, else phantoms)."""
    model = models.course_classifier("shipped")
    films = data.load_pneumonia(size=28)
    scope = report.learn_scope(model, films.train[0][:1500], films.val[0])
    return {"model": model, "films": films, "scope": scope}


# Bugs caught: a CT, an MR or a limb film answered as if it were a chest film; an empty tag held against a film;
# a chest PA film refused. The words are the clinician's: what the file is, and what the model learned from.
def test_the_dicom_header_refuses_ct_mr_and_limb_films_in_plain_words(course):
    scope = course["scope"]
    assert scope.header_problems(get_testdata_file("RG1_UNCR.dcm")) == []  # chest CR, PA
    ct = scope.header_problems(get_testdata_file("CT_small.dcm"))
    assert ct and ct[0].startswith("it is a CT image (Modality CT)") and "CR or DX" in ct[0]
    assert scope.header_problems(get_testdata_file("MR_small.dcm"))[0].startswith("it is an MR image")
    limb = scope.header_problems(get_testdata_file("RG3_UNCR.dcm"))
    assert limb == ["the file says the body part is EXTREMITY; this model learned from chest films only"]
    assert report.header_problems({"Modality": "CR", "BodyPartExamined": "CHEST", "ViewPosition": "LL"}, scope)[0] \
        .startswith("the file says the view is LL")
    assert report.header_problems({"Modality": "DX", "BodyPartExamined": "", "ViewPosition": None}, scope) == []
    checked = scope.check(course["model"], get_testdata_file("CT_small.dcm"))
    assert not checked["in_scope"] and checked["header"] and np.isnan(checked["distance"])


# Bugs caught: limits taken on the training films (every new film would look far) or not from the validation
# films at the stated percentile; in-distribution test films flagged wholesale; blank, noise and colour pictures
# answered. (Seen failing with the limit set from the training films' distances.)
def test_the_limits_come_from_the_validation_films_and_separate_films_from_other_pictures(course):
    model, films, scope = course["model"], course["films"], course["scope"]
    val_distance = scope.distances(model, data.to_model_input(films.val[0]))
    assert scope.distance_limit == pytest.approx(np.percentile(val_distance, 99))
    assert np.mean(val_distance > scope.distance_limit) <= 0.011
    test = scope.check_input(model, data.to_model_input(films.test[0]))
    assert np.mean([not c["in_scope"] for c in test]) <= 0.05
    rng = np.random.default_rng(0)
    others = {"blank": np.full((300, 300), 128, np.uint8), "black": np.zeros((64, 64), np.uint8),
              "noise": rng.integers(0, 256, (256, 256)).astype(np.uint8),
              "colour": np.dstack([np.full((80, 80), 200), np.full((80, 80), 90), np.full((80, 80), 150)]).astype(np.uint8)}
    for name, picture in others.items():
        checked = scope.check(model, picture)
        assert not checked["in_scope"], (name, checked)
    assert "colour picture" in scope.check(model, others["colour"])["reasons"][0]
    assert any("almost no contrast" in r for r in scope.check(model, others["blank"])["reasons"])


# Bug caught: a scope file that loses a number on the way (the page and Python would then disagree), or one saved
# over a file RadKit did not write.
def test_a_scope_saves_loads_and_never_overwrites_another_file(course, tmp_path):
    scope = course["scope"]
    path = scope.save_beside(tmp_path / "model.keras")
    assert path.name == "model.scope.npz"
    again = report.load_scope(path)
    assert np.array_equal(again.mean, scope.mean) and np.array_equal(again.whitening, scope.whitening)
    assert again.describe() == scope.describe() and again.views == scope.views
    scope.save(path)  # RadKit's own file: replaced
    foreign = tmp_path / "mine.scope.npz"
    foreign.write_bytes(b"my own notes")
    with pytest.raises(RadkitError, match="RadKit did not write it"):
        scope.save(foreign)
    assert foreign.read_bytes() == b"my own notes"


# Bug caught: predict_folder answering a CT or a colour photograph as if it were a chest film.
def test_predict_folder_withholds_the_answer_for_files_outside_the_scope(course, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    Image.fromarray(course["films"].test[0][0]).save(folder / "film.png")
    (folder / "ct.dcm").write_bytes(Path(get_testdata_file("CT_small.dcm")).read_bytes())
    Image.fromarray(np.zeros((50, 50), np.uint8)).save(folder / "blank.png")
    rows = {r["file"]: r for r in evaluate.predict_folder(course["model"], folder, scope=course["scope"], show=False)}
    assert rows["film.png"]["prediction"] in ("normal", "pneumonia") and np.isfinite(rows["film.png"]["probability"])
    assert rows["ct.dcm"]["prediction"] == "withheld" and "it is a CT image" in rows["ct.dcm"]["note"]
    assert rows["blank.png"]["prediction"] == "withheld" and np.isnan(rows["blank.png"]["probability"])


# Bug caught: an export whose scope the page cannot use (missing numbers, another model's scope).
def test_the_export_carries_the_scope(course, tmp_path):
    folder = deploy.export_tfjs(course["model"], tmp_path / "exported", label_names=["normal", "pneumonia"],
                                scope=course["scope"])
    meta = json.loads((folder / "radkit.json").read_text())["scope"]
    n = meta["features"]
    numbers = np.frombuffer((folder / "scope.bin").read_bytes(), "<f4")
    assert len(numbers) == n + n * n and np.array_equal(numbers[:n], course["scope"].mean)
    assert meta["distance_limit"] == round(course["scope"].distance_limit, 3) and meta["modalities"] == ["CR", "DX"]
    other = models.small_cnn((32, 32, 1))
    with pytest.raises(RadkitError, match="learned for another model"):
        deploy.export_tfjs(other, tmp_path / "other", scope=course["scope"])


# ---------------------------------------------------------------- the page

def _png_claiming(path: Path, width: int, height: int) -> Path:
    """A PNG whose header says width x height (its pixels are never read: it is refused first)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = lambda kind, body: struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))  # noqa: E731
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="module")
def page(course, tmp_path_factory):
    if deploy.browser_missing():
        pytest.skip(f"cannot drive a headless browser: {deploy.browser_missing()}")
    tmp = tmp_path_factory.mktemp("scope_page")
    exported = deploy.export_tfjs(course["model"], tmp / "exported", label_names=["normal", "pneumonia"],
                                  scope=course["scope"])
    site = deploy.build_webapp(exported, tmp / "site")
    film = tmp / "film.png"
    Image.fromarray(course["films"].test[0][3]).save(film)
    colour = tmp / "colour.png"
    Image.fromarray(np.dstack([np.full((90, 120), 220), np.tile(np.arange(120) * 2, (90, 1)),
                               np.full((90, 120), 180)]).astype(np.uint8)).save(colour)
    empty = tmp / "empty.png"
    empty.write_bytes(b"")
    huge = _png_claiming(tmp / "huge.png", 20000, 20000)
    chest = Path(get_testdata_file("RG1_UNCR.dcm"))
    files = [chest, film, colour, chest, empty, get_testdata_file("CT_small.dcm"), huge]
    with deploy.serve(site) as server:
        result = deploy.try_in_browser(server.url, files=files)
    return {"files": files, "result": result, "shown": result["files"]}


# Bugs caught: a page whose feature distance, contrast or colour differs from Python's (other layers, another
# average, a transposed whitening matrix); a picture the page answers though Python withholds it.
@pytest.mark.browser
def test_the_page_computes_the_scope_as_python_does(course, page):
    model, scope = course["model"], course["scope"]
    for path, shown in zip(page["files"][:3], page["shown"][:3]):
        expected = scope.check(model, path)
        got = shown["scope"]
        assert got["distance"] == pytest.approx(expected["distance"], rel=1e-4, abs=1e-3), path
        assert got["contrast"] == pytest.approx(expected["contrast"], abs=1e-5)
        assert got["colour"] == pytest.approx(expected["colour"], abs=1e-6)
        assert got["in_scope"] == expected["in_scope"] and bool(shown.get("withheld")) == (not expected["in_scope"])
    colour = page["shown"][2]
    assert colour["withheld"] and "does not look like the chest films this model learned from" in colour["page_text"]
    assert "Most likely" not in colour["page_text"] and "colour picture" in colour["page_text"]
    assert page["result"]["errors"] == [] and page["result"]["csp"] == [] and page["result"]["blocked"] == []


# Bugs caught: the film shown as the model's 28 x 28 input instead of the picture itself; the heatmap not drawn.
@pytest.mark.browser
def test_the_page_shows_the_film_at_display_resolution(page):
    chest = page["shown"][0]
    rows, cols = pydicom.dcmread(page["files"][0]).pixel_array.shape
    assert chest["ok"]
    assert max(chest["display"]["width"], chest["display"]["height"]) == 512  # a 1841 x 1955 film, shrunk to show
    assert chest["display"]["width"] / chest["display"]["height"] == pytest.approx(cols / rows, abs=0.01)
    # A scope learned from phantoms (no real data here) rightly finds a real film unlike them and withholds.
    if not chest.get("withheld"):
        assert chest["ranked"] and len(chest["heatmap"]) == 28 * 28


# Bug caught (privacy): a refused file (an empty PNG) left the previous patient's name, ID, age and study date on
# screen under the new error, because the refusal hid the result but never the DICOM details.
@pytest.mark.browser
def test_a_refused_file_clears_the_previous_patient_from_the_page(page):
    ds = pydicom.dcmread(page["files"][3])
    name = str(ds.PatientName).replace("^", " ")  # as the page shows it
    shown = [name, ds.PatientID, "Warning: this file carries details"]
    after_dicom, refused = page["shown"][3], page["shown"][4]
    assert all(value in after_dicom["page_text_all"] for value in shown), after_dicom["page_text_all"]
    assert not refused["ok"]
    for value in shown:
        assert value not in refused["page_text_all"], value
    assert "Most likely" not in refused["page_text"]


# Bugs caught: a CT answered in the page; a huge picture decoded (or refused with other words than Python's).
@pytest.mark.browser
def test_the_page_refuses_a_ct_from_its_header_and_a_huge_picture_as_too_large(page, tmp_path):
    ct, huge = page["shown"][5], page["shown"][6]
    assert not ct["ok"] and "it is a CT image (Modality CT)" in ct["message"] and "Most likely" not in ct["page_text"]
    assert not huge["ok"] and "too large to read safely" in huge["message"]
    with pytest.raises(RadkitError, match="too large to read safely"):
        data.decode_image(page["files"][6])
