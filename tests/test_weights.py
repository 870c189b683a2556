"""Pretrained weights (notebook 04) are found like datasets, checked by SHA-256, and never used when damaged."""

from __future__ import annotations

import hashlib

import pytest

from radkit import cli, download, registry
from radkit.errors import RadkitError

GOOD = b"pretend ImageNet weights" * 100
NAME = registry.get("keras_weights").file("mobilenetv2_0.35").name


@pytest.fixture
def fake_card(monkeypatch):
    """Point the registry's weights entry at a small pretend file, so these tests need no real weights."""
    card = registry.get("keras_weights")
    real = card.file("mobilenetv2_0.35")
    fake = registry.DataFile(real.name, "https://example.invalid/never-used.h5", hashlib.md5(GOOD).hexdigest(),
                             sha256=hashlib.sha256(GOOD).hexdigest())
    monkeypatch.setitem(card.files, "mobilenetv2_0.35", fake)
    return fake


@pytest.fixture
def places(tmp_path, monkeypatch):
    """Empty RADKIT_LOCAL_DATA, data folder and Keras folder for one test; network downloads refused."""
    folders = {name: tmp_path / name for name in ("local", "data", "keras_home")}
    for folder in folders.values():
        folder.mkdir()
    monkeypatch.setenv("RADKIT_LOCAL_DATA", str(folders["local"]))
    monkeypatch.setenv("RADKIT_DATA", str(folders["data"]))
    monkeypatch.setenv("KERAS_HOME", str(folders["keras_home"]))
    monkeypatch.delenv("RADKIT_OFFLINE", raising=False)

    def no_network(url, md5, folder, filename, progress=True):
        raise RadkitError(f"Could not download {filename}: the internet could not be reached (ConnectionError).",
                          "generic fix")

    monkeypatch.setattr(download, "download", no_network)
    return folders


def _put(folder, content, subfolder="keras_weights"):
    path = folder / subfolder / NAME if subfolder else folder / NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


# Catches: a lookup that ignores RADKIT_LOCAL_DATA (a workshop's USB stick) and downloads instead.
def test_found_in_local_data(fake_card, places):
    path = _put(places["local"], GOOD)
    assert download.keras_weights() == path


# Catches: a lookup that forgets the data folder or Keras' own cache (where an earlier download left the file).
@pytest.mark.parametrize("place, subfolder", [("data", "keras_weights"), ("keras_home", "models")])
def test_found_in_data_folder_and_keras_folder(fake_card, places, place, subfolder):
    folder = places[place] / "models" if place == "keras_home" else places[place]
    path = _put(folder, GOOD, subfolder="keras_weights" if place == "data" else None)
    assert download.keras_weights() == path


# Catches: using a damaged or different file because its name is right (the checksum must decide), deleting it,
# or staying silent about it.
def test_checksum_mismatch_is_refused_announced_and_left_alone(fake_card, places, capsys, monkeypatch):
    bad = _put(places["local"], b"a truncated copy")
    monkeypatch.setenv("RADKIT_OFFLINE", "1")
    with pytest.raises(RadkitError, match="offline"):
        download.keras_weights()
    said = capsys.readouterr().out
    assert "RADKIT_LOCAL_DATA" in said and "SHA-256" in said and "not used" in said
    assert bad.read_bytes() == b"a truncated copy", "radkit must never delete or change a file it did not create"


# Catches: stopping at the first (damaged) copy instead of looking on for a good one.
def test_damaged_local_copy_but_good_copy_in_data_folder(fake_card, places, capsys):
    _put(places["local"], b"damaged")
    good = _put(places["data"], GOOD)
    assert download.keras_weights() == good
    assert "not the official file" in capsys.readouterr().out


# Catches: an offline failure that does not say what to do (the file's name and where to put it).
def test_missing_file_offline_says_where_to_put_it(fake_card, places, monkeypatch):
    monkeypatch.setenv("RADKIT_OFFLINE", "1")
    with pytest.raises(RadkitError) as error:
        download.keras_weights()
    assert NAME in error.value.fix and "RADKIT_LOCAL_DATA" in error.value.fix and "radkit fetch" in error.value.fix


# Catches: a network failure reported with the generic dataset advice instead of where the weights go.
def test_missing_file_no_internet_says_where_to_put_it(fake_card, places):
    with pytest.raises(RadkitError, match="internet could not be reached") as error:
        download.keras_weights()
    assert "keras_weights" in error.value.fix and "generic fix" not in str(error.value)


# Catches: a download that goes somewhere else than the data folder, or is not checked by SHA-256.
def test_download_lands_in_data_folder_and_is_checked(fake_card, places, monkeypatch):
    def fake_download(url, md5, folder, filename, progress=True, content=GOOD):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / filename).write_bytes(content)
        return folder / filename

    monkeypatch.setattr(download, "download", fake_download)
    path = download.keras_weights(quiet=True)
    assert path == places["data"] / "keras_weights" / NAME and path.read_bytes() == GOOD

    path.unlink()
    monkeypatch.setattr(download, "download", lambda *a, **k: fake_download(*a, content=b"other bytes, same md5?"))
    with pytest.raises(RadkitError, match="SHA-256"):
        download.keras_weights(quiet=True)
    assert not path.exists(), "a download that fails its checksum must not stay in the cache"


# Catches: a download that overwrites a file radkit cannot vouch for.
def test_damaged_copy_in_data_folder_is_not_overwritten(fake_card, places, monkeypatch):
    bad = _put(places["data"], b"someone else's file")
    monkeypatch.setattr(download, "download", lambda *a, **k: pytest.fail("must not download over it"))
    with pytest.raises(RadkitError, match="damaged"):
        download.keras_weights(quiet=True)
    assert bad.read_bytes() == b"someone else's file"


# Catches: the registry entry drifting from the official file (the shared copy is Keras' own download).
def test_registry_checksums_match_the_official_file(shared_data, monkeypatch, tmp_path):
    monkeypatch.setenv("RADKIT_LOCAL_DATA", str(shared_data))
    monkeypatch.setenv("RADKIT_DATA", str(tmp_path))
    path = download.keras_weights()
    file = registry.get("keras_weights").file("mobilenetv2_0.35")
    assert download.sha256sum(path) == file.sha256 and download.md5sum(path) == file.md5


# Catches: `radkit fetch keras_weights` taking the dataset path (used as is, MD5 only) instead of the checked one.
def test_cli_fetch_keras_weights(fake_card, places, capsys):
    _put(places["local"], GOOD)
    assert cli.main(["fetch", "keras_weights"]) == 0
    assert "OK" in capsys.readouterr().out
    _put(places["local"], b"damaged")
    assert cli.main(["fetch", "keras_weights"]) == 2
