"""Reading DICOM files: pixels in their units, window/level, de-identification, series to volume.

Introduced in notebook 01_medical_images. Everything here is built on
pydicom; each function does one step a radiologist already knows:

- ``read`` opens one file (also DICOM written without the standard 128-byte header); ``pixels``
  gives its pixel values in the file's units: Hounsfield units on CT (stored value x RescaleSlope
  + RescaleIntercept, per frame for enhanced CT/MR), dose on RT Dose; ``units`` says which.
- ``apply_window`` is window/level: ``level`` is the centre, ``width`` the
  range of values spread from black to white. ``CT_WINDOWS`` holds presets.
- ``display_image`` and ``load_image`` make a picture ready to show: the
  file's own window (or the full range), with MONOCHROME1 turned the right
  way round so bones are bright.
- ``load_series`` puts a folder of slices in order and stacks them into a volume, saying what it
  left out; a folder of several series is listed and one is chosen by number or description.
- ``deidentify`` applies the DICOM standard's de-identification profile and reports what it did
  (the work is in ``radkit.deidentification``).
"""

from radkit.dicom.reading import CT_WINDOWS, EXAMPLES, example_path, read  # noqa: F401
from radkit.dicom.pixels import (  # noqa: F401
    pixels, units, apply_window, default_window, display_image, load_image
)
from radkit.dicom.tags import tag_table, _tag, deidentify  # noqa: F401
from radkit.dicom.saving import WRITER, save, save_png  # noqa: F401
from radkit.dicom.series import Series, read_folder, load_series, example_series, plane  # noqa: F401
