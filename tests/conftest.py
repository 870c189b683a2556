"""Shared test set-up: fast mode, a private data folder, and the real test data when present."""

from __future__ import annotations

import os
import sys
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


# ---------------------------------------------------------------- nothing private in notebook outputs

def _private_patterns() -> list[tuple[str, "re.Pattern"]]:
    """What must never appear in a notebook's outputs: TensorFlow's warnings (one printed every environment
    variable), an environment dump, and absolute paths or the kernel version of the machine that ran it."""
    import platform
    import re

    def path(p) -> str:  # the path itself, followed by a separator or the end of a word
        return re.escape(str(p).rstrip("/")) + r"(?=[/\\\s'\")\],:]|$)"

    patterns = [("TensorFlow warning", re.compile(r"WARNING:tensorflow")),
                ("environment variables", re.compile(r"environ\(")),
                ("this computer's home folder", re.compile(path(Path.home()))),
                ("this checkout's path", re.compile(path(ROOT))),
                ("the folder of the checkouts", re.compile(re.escape(str(ROOT.parent).rstrip("/")) + "/")),
                ("a temporary-folder path", re.compile(re.escape(tempfile.gettempdir().rstrip("/")) + "/")),
                ("another user's home folder", re.compile(r"(?<![\w.])/(home|Users)/[^/\s]+/|[A-Za-z]:\\\\?Users\\\\?")),
                ("the Python environment's path", re.compile(path(sys.prefix)))]
    release = platform.release()
    if len(release) >= 5:  # e.g. 6.8.0-1020-gcp: it names this exact machine's kernel
        patterns.append(("this computer's kernel version", re.compile(re.escape(release))))
    return patterns


_TEXT_KEYS = ("text/plain", "text/html", "text/markdown", "text/latex", "application/json")


def output_texts(outputs) -> list[str]:
    """The text of notebook outputs (stream, results, tracebacks); pictures' base64 data is left out."""
    texts = []
    for output in outputs or []:
        def join(value):
            return "".join(value) if isinstance(value, list) else str(value)

        if output.get("output_type") == "stream":
            texts.append(join(output.get("text", "")))
        elif output.get("output_type") == "error":
            texts.append("\n".join(output.get("traceback", [])) + f"\n{output.get('evalue', '')}")
        else:
            for key in _TEXT_KEYS:
                if key in output.get("data", {}):
                    texts.append(join(output["data"][key]))
    return texts


def privacy_leaks(outputs) -> list[str]:
    """What private or machine-specific text the outputs show: one line per finding (empty when clean)."""
    found = []
    for text in output_texts(outputs):
        for what, pattern in _private_patterns():
            match = pattern.search(text)
            if match:
                start = max(0, match.start() - 40)
                found.append(f"{what}: ...{text[start:match.end() + 40]!r}...")
    return found


# ---------------------------------------------------------------- the quick lane: markers by kind

# `python3 run.py test --quick` runs `-m "not notebook and not browser and not hub and not slow"`.
# Markers are given here, by kind, so that a new test file is sorted without anyone remembering to.
NOTEBOOK_FILES = ("test_walkthrough.py", "test_situations.py")  # they execute whole notebooks
RUNS_NOTEBOOKS = ("NotebookClient", "ExecutePreprocessor", "nbconvert --execute", "\"--execute\"")
BROWSER_FILES = ("test_browser*.py",)
HUB_FILES = ("test_hub*.py",)
# The slowest tests of the rest (pytest --durations): trainings, whole corpora, fresh processes, installs, servers.
# Together they took three quarters of the unit tests' time; the quick lane leaves them out.
SLOW_TESTS = {
    "test_config.py::test_augmentation_prints_no_tensorflow_warning_and_no_environment",
    "test_data.py::test_fast_mode_shrinks_the_data",
    "test_data.py::test_pneumonia_falls_back_to_phantoms_offline",
    "test_data.py::test_real_nih_folder_split_by_patient",
    "test_decoding.py::test_real_files_give_their_pixels_or_a_plain_error",
    "test_deidentify.py::test_corpus_every_file_deidentifies_and_saves_or_gives_a_clear_error",
    "test_deidentify.py::test_every_attribute_of_table_e1_1_is_actioned_at_every_level",
    "test_detectors.py::test_centre_detector_learns_cells",
    "test_detectors.py::test_centre_detector_reads_colour_smears",
    "test_detectors.py::test_edges_head_follows_a_moving_object",
    "test_detectors.py::test_trained_regressor_beats_the_average_box",
    "test_dicom.py::test_corpus_every_file_reads_or_gives_a_clear_error",
    "test_evaluate.py::test_bootstrap_contains_estimate_and_repeats_with_seed",
    "test_explain.py::test_tf_explain_and_tape_agree",
    "test_labels.py::test_nih_subset_reads_as_documented",
    "test_labels.py::test_notebook_06_chestmnist_step",
    "test_masks.py::test_fit_takes_neighbouring_slices_as_channels",
    "test_masks.py::test_unet_learns_squares",
    "test_model_saving.py::test_each_model_reloads_in_a_fresh_process_and_predicts_the_same",
    "test_models.py::test_efficientnet_offline",
    "test_models.py::test_transfer_model_is_flat_and_frozen",
    "test_own_images.py::test_train_folder_chooses_on_validation_and_judges_on_test",
    "test_privacy.py::test_nbval_run_fails_a_cell_whose_live_output_leaks",
    "test_run.py::test_run_py_course_serves_lab_with_news_and_update_checks_off",
    "test_train.py::test_frozen_layers_stay_unchanged_after_fit",
    "test_train.py::test_same_seed_same_numbers",
    "test_train.py::test_training_with_augmentation_does_not_print_the_environment",
    "test_wheel.py::test_wheel_installs_and_runs_outside_the_checkout",
}
SLOW_FILES = ("test_workshop_files.py",)


def _runs_notebooks(path: Path, cache: dict = {}) -> bool:
    """Does this test file execute notebooks (it names a notebook runner)?"""
    if path not in cache:
        try:
            source = path.read_text(encoding="utf-8")
        except OSError:
            source = ""
        cache[path] = any(word in source for word in RUNS_NOTEBOOKS)
    return cache[path]


def kinds(item) -> set[str]:
    """The markers of one collected test: notebook, browser, hub, slow (an empty set for a quick unit test)."""
    path = Path(str(item.fspath))
    found = set()
    if type(item).__name__ == "IPyNbCell" or path.suffix == ".ipynb":
        found.add("notebook")  # a cell nbval runs from a notebook in solutions/
    elif path.name in NOTEBOOK_FILES or (path.suffix == ".py" and _runs_notebooks(path)):
        found.add("notebook")
    if any(path.match(pattern) for pattern in BROWSER_FILES):
        found.add("browser")
    if any(path.match(pattern) for pattern in HUB_FILES):
        found.add("hub")
    if path.name in SLOW_FILES or f"{path.name}::{item.name.split('[')[0]}" in SLOW_TESTS:
        found.add("slow")
    return found


def pytest_collection_modifyitems(session, config, items):
    """Mark every test by kind (above); and check the outputs of every notebook cell that nbval runs (no second
    execution): a cell whose output shows private text fails. Called for all items, so it covers
    `pytest tests solutions` (run.py test)."""
    for item in items:
        for kind in sorted(kinds(item)):
            item.add_marker(getattr(pytest.mark, kind))
        if type(item).__name__ != "IPyNbCell":
            continue

        def runtest(item=item, original=item.runtest):
            original()
            leaks = privacy_leaks(getattr(item, "test_outputs", None))
            if leaks:
                message = "This cell's output shows private or machine-specific text:\n" + "\n".join(leaks)
                try:
                    from nbval.plugin import NbCellError

                    raise NbCellError(item.cell_num, message, item.cell.source)
                except ImportError:
                    raise AssertionError(message) from None

        item.runtest = runtest
