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


# ---------------------------------------------------------------- phantoms that carry notebooks 03 and 05's lessons

def _fast_phantoms(monkeypatch, tmp_path):
    """The practice films notebooks 03 and 05 use with no data at all (fast mode, 28 px)."""
    from radkit import data

    monkeypatch.setenv("RADKIT_OFFLINE", "1")
    monkeypatch.setenv("RADKIT_FAST", "1")
    monkeypatch.setenv("RADKIT_DATA", str(tmp_path / "empty"))
    monkeypatch.delenv("RADKIT_LOCAL_DATA", raising=False)
    films = data.load_pneumonia(size=28)
    assert not films.is_real
    return films


# Catches phantoms where pneumonia is the rarer label (40 %): then class weights cannot show what they do on
# PneumoniaMNIST, where pneumonia is the common one.
def test_phantom_splits_are_imbalanced_like_pneumoniamnist(monkeypatch, tmp_path):
    films = _fast_phantoms(monkeypatch, tmp_path)
    shares = {split: getattr(films, split)[1].mean() for split in ("train", "val", "test")}
    assert shares["train"] > 0.85, shares
    assert 0.65 < shares["val"] < 0.82 and 0.55 < shares["test"] < 0.7, shares


# Catches (notebook 03, no data at all): class weights that do not move specificity (the old phantoms:
# 24.6 % without, 20.3 % with), and a course model that does not fit the phantoms (the real-film model
# cleared every phantom film at 0.5).
def test_class_weights_and_the_phantom_twin_carry_notebook_03(monkeypatch, tmp_path):
    import radkit
    from radkit import evaluate, models, pretrained, train

    films = _fast_phantoms(monkeypatch, tmp_path)
    images, labels = films.test
    model = pretrained.classifier_for(films)
    m = evaluate.clinical_metrics(labels, evaluate.predict_probabilities(model, images), 0.5)
    assert 0.3 <= m["specificity"] <= 0.97 and m["sensitivity"] > 0.6, m
    real = models.course_classifier(source="shipped")
    assert evaluate.auc(labels, evaluate.predict_probabilities(real, images)) < 0.8, \
        "the real-film model fits phantoms after all: the twin would not be needed"
    results = {}
    for weights in (None, "balanced"):
        radkit.set_seed(42)
        quick = models.small_cnn(input_shape=(28, 28, 1))
        train.fit(quick, films.train, films.val, epochs=3, class_weight=weights, augment=False, verbose=False)
        results[weights] = evaluate.clinical_metrics(labels, evaluate.predict_probabilities(quick, images))
    assert results["balanced"]["specificity"] >= results[None]["specificity"] + 0.1, results
    assert results["balanced"]["sensitivity"] <= results[None]["sensitivity"], results


# Catches (notebook 05, no data at all): a marker the model does not lean on (the old phantoms: the shortcut
# model lost no sensitivity on clean films).
def test_shortcut_marker_is_learned_on_the_phantoms(monkeypatch, tmp_path):
    import radkit
    from radkit import evaluate, explain, models, train

    films = _fast_phantoms(monkeypatch, tmp_path)
    (train_images, train_labels), (val_images, val_labels), (test_images, test_labels) = films.train, films.val, films.test
    radkit.set_seed(42)
    shortcut = models.small_cnn(input_shape=(28, 28, 1))
    train.fit(shortcut, (explain.add_marker(train_images, train_labels)[0], train_labels),
              (explain.add_marker(val_images, val_labels)[0], val_labels), epochs=2, augment=False, verbose=False)
    marked = explain.add_marker(test_images, test_labels)[0]
    sensitivity = {name: evaluate.clinical_metrics(test_labels, evaluate.predict_probabilities(shortcut, x))["sensitivity"]
                   for name, x in (("marked", marked), ("clean", test_images))}
    assert sensitivity["marked"] - sensitivity["clean"] >= 0.3, sensitivity
