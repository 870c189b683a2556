"""Phantoms: deterministic, plausible, and learnable but not trivial."""

from __future__ import annotations

import numpy as np

from radkit import phantoms


def test_same_seed_same_images_different_seed_different_images():
    a, b = phantoms.chest_xrays(6, size=48, seed=3), phantoms.chest_xrays(6, size=48, seed=3)
    assert np.array_equal(a["images"], b["images"]) and np.array_equal(a["labels"], b["labels"])
    assert not np.array_equal(a["images"], phantoms.chest_xrays(6, size=48, seed=4)["images"])


def test_chest_film_is_plausible():
    film = phantoms.chest_xray(size=128, seed=1)
    image, lungs = film["image"], film["lung_mask"]
    assert image.dtype == np.uint8 and image.shape == (128, 128)
    spine = image[20:90, 60:68]
    assert image[lungs].mean() < spine.mean() - 40, "lungs must be dark and the spine bright, as on a film"
    x_min, y_min, x_max, y_max = film["heart_box"]
    assert 0 <= x_min < x_max <= 128 and 0 <= y_min < y_max <= 128
    assert (x_min + x_max) / 2 > 64, "the heart sits on the patient's left, the image's right"


def test_pneumonia_adds_opacity_inside_the_lungs_only():
    sick = phantoms.chest_xray(size=96, pneumonia=True, seed=5)
    assert sick["opacity_mask"].any()
    assert not (sick["opacity_mask"] & ~sick["lung_mask"]).any()
    assert not phantoms.chest_xray(size=96, pneumonia=False, seed=5)["opacity_mask"].any()


def test_labels_follow_prevalence():
    labels = phantoms.chest_xrays(400, size=16, prevalence=0.3, seed=0)["labels"]
    assert 0.22 < labels.mean() < 0.38


def test_brightness_alone_does_not_give_the_answer_away():
    """Learnable but not trivial: a one-number rule (mean brightness) must do clearly worse than perfect."""
    from sklearn.metrics import roc_auc_score

    data = phantoms.chest_xrays(300, size=48, seed=2)
    auc = roc_auc_score(data["labels"], data["images"].reshape(300, -1).mean(axis=1))
    assert auc < 0.85


def test_mri_volume_and_left_atrium_label():
    scan = phantoms.cardiac_mri((12, 48, 48), seed=2)
    volume, label = scan["volume"], scan["label"]
    assert volume.shape == label.shape == (12, 48, 48)
    assert 0 <= volume.min() and volume.max() <= 1
    assert 0.002 < label.mean() < 0.1
    assert volume[label == 1].mean() > volume[label == 0].mean() + 0.2, "blood in the atrium is bright"
    rows = np.nonzero(label)[1]
    assert rows.mean() > 24, "the left atrium lies at the back of the heart (lower half of the image)"
    many = phantoms.cardiac_mris(2, (8, 32, 32), seed=0)
    assert many["volumes"].shape == (2, 8, 32, 32) and many["labels"].shape == (2, 8, 32, 32)


# Catches: a multi-finding phantom whose label does not match its drawing (e.g. an effusion that is not drawn).
def test_multi_finding_phantoms_draw_what_they_label():
    plain = phantoms.chest_xray_multi(64, (), "PA", seed=5)["image"].astype(float)
    for finding in phantoms.MULTI_FINDINGS:
        film = phantoms.chest_xray_multi(64, (finding,), "PA", seed=5)
        assert film["labels"][phantoms.MULTI_FINDINGS.index(finding)] == 1 and film["labels"].sum() == 1
        assert np.abs(film["image"].astype(float) - plain).max() > 30, f"{finding} is not visible"
    tag = phantoms.chest_xray_multi(64, (), "AP", seed=5)["image"][4:6, 48:58]
    assert tag.mean() > 200, "an AP (bedside) film carries its bright tag in the top corner"


# Catches: an "other scanner" that changes nothing, changes the shape, or is not repeatable.
def test_other_scanner_changes_the_capture_not_the_shape():
    films = phantoms.chest_xrays(3, size=48, seed=0)["images"]
    for kind in phantoms.SCANNERS:
        out = phantoms.other_scanner(films, kind, seed=1)
        assert out.shape == films.shape and out.dtype == np.uint8
        assert np.abs(out.astype(float) - films).mean() > 3, kind
        assert np.array_equal(out, phantoms.other_scanner(films, kind, seed=1))
