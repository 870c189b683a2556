"""The dataset registry and its cards in datasets/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from radkit import registry
from radkit.errors import RadkitError

DATASETS_FOLDER = Path(__file__).resolve().parent.parent / "datasets"


@pytest.mark.parametrize("key", list(registry.DATASETS))
def test_cards_in_datasets_folder_match_the_registry(key):
    card = DATASETS_FOLDER / f"{key}.md"
    assert card.exists(), f"run `radkit cards` to write {card.name}"
    assert card.read_text(encoding="utf-8") == registry.card_markdown(registry.get(key)), \
        f"{card.name} is out of date: run `radkit cards`"


@pytest.mark.parametrize("key", list(registry.DATASETS))
def test_every_card_names_source_licence_and_citation(key):
    dataset = registry.get(key)
    assert dataset.source and dataset.licence and dataset.citation
    for file in dataset.files.values():
        # An archive whose source publishes no checksum (BCCD's) must carry the fingerprint of its unpacked files.
        assert re.fullmatch(r"[0-9a-f]{32}", file.md5) or (
            file.md5 == "" and file.unpack and re.fullmatch(r"[0-9a-f]{64}", file.contents_sha256)), file
        assert file.url.startswith("https://"), file


def test_medmnist_has_every_size():
    assert set(registry.get("pneumoniamnist").files) == {28, 64, 128, 224}
    assert registry.get("pneumoniamnist").file(64).name == "pneumoniamnist_64.npz"


def test_unknown_names_get_a_list_of_choices():
    with pytest.raises(RadkitError, match="pneumoniamnist"):
        registry.get("pneumonia-mnist")
    with pytest.raises(RadkitError, match="28, 64, 128, 224"):
        registry.get("pneumoniamnist").file(32)
