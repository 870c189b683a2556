"""One orientation for every volume (notebook 08): the same real hippocampus scan written as NIfTI in several
orientations and as DICOM series cut several ways must read back as the same RAS array, and give the same
outline and the same volume in mL; measuring one patient checks and says what it changed."""

from __future__ import annotations

import numpy as np
import pytest
from nibabel import orientations

from radkit import volumes
from radkit.errors import RadkitError

SPACING = (1.0, 1.2, 2.0)  # uneven on purpose: a voxel size that does not move with its axis shows up
LABELS = ["background", "anterior", "posterior"]


@pytest.fixture
def hippocampus(shared_data):
    """A real Task04 scan (stored as whole numbers, so DICOM keeps it exactly) and its label, as RAS arrays."""
    import nibabel

    folder = shared_data / "msd_hippocampus" / "Task04_Hippocampus"
    image = nibabel.load(folder / "imagesTr" / "hippocampus_001.nii.gz")
    assert "".join(nibabel.aff2axcodes(image.affine)) == "RAS" and image.get_data_dtype() == np.uint8
    label = nibabel.load(folder / "labelsTr" / "hippocampus_001.nii.gz")
    return np.asarray(image.dataobj), np.asarray(label.dataobj)


def _recut(array, codes):
    """The RAS array with SPACING, re-cut so its axes point to ``codes``: (array, affine) as a scanner could store it."""
    affine = np.diag([*SPACING, 1.0])
    change = orientations.ornt_transform(orientations.io_orientation(affine), orientations.axcodes2ornt(tuple(codes)))
    return orientations.apply_orientation(array, change), affine @ orientations.inv_ornt_aff(change, array.shape)


def _tiny_model():
    """A seeded one-layer 'segmentation model': its outline depends on which way the slices are cut."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64, 64, 1)), keras.layers.Conv2D(3, 5, padding="same", activation="softmax",
                                                                           bias_initializer="ones")])
    kernel, bias = model.layers[0].get_weights()
    model.layers[0].set_weights([kernel * 8, np.array([4.0, 0.0, -1.0], np.float32)])
    return model


SCOPE = {"modality": "MR", "orientation": "RAS", "spacing": list(SPACING), "label_names": LABELS,
         "mean_intensity": [0.0, 1.0], "largest_scan": [64, 64, 64]}


# Catches a reader that hands back the file's own axis order, or a voxel size that does not move with its axis.
def test_nifti_in_any_orientation_reads_as_the_same_ras_volume(tmp_path, hippocampus):
    image, label = hippocampus
    for codes in ("RAS", "LPS", "SPL"):
        for name, array in (("image", image), ("label", label)):
            stored, affine = _recut(array, codes)
            assert codes == "RAS" or stored.shape != array.shape or not np.array_equal(stored, array)
            path = volumes.write_nifti(stored, tmp_path / f"{name}_{codes}.nii.gz",
                                       spacing=np.sqrt((affine[:3, :3] ** 2).sum(0)), affine=affine)
            back, spacing = volumes.read_nifti(path)
            assert np.array_equal(back, array), (codes, name)
            assert spacing == SPACING, (codes, spacing)
            kept, _ = volumes.read_nifti(path, canonical=False)
            assert np.array_equal(kept, stored)


# Catches a DICOM series stacked in its own slice order (axial from the head down, from the feet up,
# sagittal, coronal) instead of turned to RAS, and a slice spacing that lands on the wrong axis.
def test_dicom_series_in_any_slice_order_reads_as_the_same_ras_volume(tmp_path, hippocampus):
    image, _ = hippocampus
    for codes in ("SPL", "IPL", "LPS", "ASR", "RAS"):
        folder = volumes.write_series(image, tmp_path / codes, spacing=SPACING, orientation=codes, seed=len(codes))
        scan = volumes.read_scan(folder)
        assert scan.orientation == "RAS" and scan.modality == "MR"
        assert np.array_equal(scan.array, image), codes
        assert np.allclose(scan.spacing, SPACING), (codes, scan.spacing)
        assert codes == "RAS" or any(n.startswith("turned from") for n in scan.notes)


# Catches a measurement that depends on how the file was written: same outline, same mL, whichever way.
def test_same_outline_and_volume_whatever_the_file_orientation(tmp_path, hippocampus, capsys):
    image, _ = hippocampus
    model = _tiny_model()
    paths = []
    for codes in ("RAS", "LPS", "SPL"):
        stored, affine = _recut(image, codes)
        paths.append(volumes.write_nifti(stored, tmp_path / f"{codes}.nii.gz",
                                         spacing=np.sqrt((affine[:3, :3] ** 2).sum(0)), affine=affine))
    paths += [volumes.write_series(image, tmp_path / f"dicom_{c}", spacing=SPACING, orientation=c) for c in ("SPL", "ASR")]
    results = [volumes.measure_patient(p, model, SCOPE, show=False) for p in paths]
    first = results[0]
    assert 0 < (first.outline > 0).mean() < 0.9 and len(np.unique(first.outline)) == 3  # the outline is not trivial
    for result in results[1:]:
        assert np.array_equal(result.outline, first.outline)
        assert result.volumes_ml == first.volumes_ml and np.array_equal(result.image, first.image)
    assert any("turned from SPL" in c for c in results[2].changes)
    # Without turning, the same file measures differently: the reason for all of the above.
    unturned = volumes.measure_patient(paths[2], model, SCOPE, reorient=False, show=False)
    assert unturned.volumes_ml != first.volumes_ml
    assert any("NOT turned" in c for c in unturned.changes)


# Catches a prediction that silently runs on scans in another orientation.
def test_prediction_refuses_scans_not_in_ras(hippocampus):
    image, label = hippocampus
    scans = volumes.Volumes([image / 255.0], [label], [SPACING], ["one"], tuple(LABELS), "test", True, orientation="LPS")
    with pytest.raises(RadkitError, match="RAS"):
        volumes.predict_probabilities(_tiny_model(), scans)


# Catches measuring a scan the model never learned from: another modality, or far larger than its crops;
# and a voxel size that is not resampled to the learned one (the mL would be wrong).
def test_measure_patient_checks_modality_size_and_spacing(tmp_path, hippocampus, capsys):
    image, _ = hippocampus
    model = _tiny_model()
    ct = volumes.write_series(image, tmp_path / "ct", spacing=SPACING, modality="CT")
    with pytest.raises(RadkitError, match="CT.*MR"):
        volumes.measure_patient(ct, model, SCOPE, show=False)
    big = volumes.write_nifti(np.zeros((40, 90, 90), np.uint8), tmp_path / "big.nii.gz", spacing=SPACING)
    with pytest.raises(RadkitError, match="Crop"):
        volumes.measure_patient(big, model, SCOPE, show=False)
    half = volumes.write_nifti(image, tmp_path / "fine.nii.gz", spacing=tuple(s / 2 for s in SPACING))
    result = volumes.measure_patient(half, model, SCOPE, show=False)
    assert result.image.shape == tuple(int(round(n / 2)) for n in image.shape)
    assert any("resampled" in c for c in result.changes) and any("modality" in c for c in result.changes)
    assert "volume:" in capsys.readouterr().out


# Catches a scope that cannot be kept beside the model, or one saved over another file.
def test_scope_saved_and_read_back(tmp_path):
    scans = volumes.load_phantom_mri(n=3)
    scope = volumes.learned_scope(scans)
    assert scope["modality"] == "MR" and scope["spacing"] == list(volumes.PHANTOM_SPACING)
    path = volumes.save_scope(scope, tmp_path / "scope.json")
    assert volumes.load_scope(path) == scope
    with pytest.raises(RadkitError, match="already exists"):
        volumes.save_scope(scope, path)
