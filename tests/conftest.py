"""Shared test set-up: fast mode, a private data folder, and the real test data when present."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("RADKIT_TEST_DATA", ROOT.parent / "shared" / "data"))

# Set before any notebook kernel starts, so kernels inherit them.
os.environ.setdefault("RADKIT_FAST", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("RADKIT_DATA", tempfile.mkdtemp(prefix="radkit-test-data-"))
if SHARED_DATA.is_dir():
    os.environ.setdefault("RADKIT_LOCAL_DATA", str(SHARED_DATA))


@pytest.fixture
def shared_data() -> Path:
    """The folder of real test data (../shared/data); skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test data not found at {SHARED_DATA} (set RADKIT_TEST_DATA to its folder)")
    return SHARED_DATA


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """An empty, private RADKIT_DATA folder for one test, with no pre-fetched data."""
    folder = tmp_path / "radkit-data"
    monkeypatch.setenv("RADKIT_DATA", str(folder))
    monkeypatch.delenv("RADKIT_LOCAL_DATA", raising=False)
    return folder
