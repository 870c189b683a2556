"""Load images for the course: real datasets when possible, practice phantoms otherwise.

Introduced in notebook 00_start_here and used from notebook 02 on.

- ``load_pneumonia(size)``: PneumoniaMNIST chest X-rays, or phantoms offline.
- ``load_medmnist(path)``: any MedMNIST ``.npz`` file.
- ``load_image_folder(folder)``: your own images, one sub-folder per class
  (PNG, JPEG, DICOM, GIF, WebP, TIFF may be mixed), or train/, val/, test/
  folders each holding those; ``.split(groups=patient_ids(folder.paths))``
  keeps each patient in one split.
- ``read_image(path)``: one picture file as a grey picture; ``decode_image``
  is the one decoding path it shares with the web app's ``deploy.preprocess``.
- ``to_model_input(images)``: pictures to the numbers a model takes.

Every loader returns plain NumPy arrays: images are ``uint8`` of shape
(number of images, height, width), 0 = black and 255 = white.
"""

from radkit.data.images import (  # noqa: F401
    IMAGE_SUFFIXES, DICOM_SUFFIXES, IGNORED_NAMES, is_dicom, decode_image, read_image, resize_images,
    grey_stack, to_model_input
)
from radkit.data.datasets import ImageDataset, load_medmnist, load_phantom_chest, load_pneumonia  # noqa: F401
from radkit.data.folders import (  # noqa: F401
    SPLIT_FOLDERS, PATIENT_PATTERNS, PATTERN_FIX, patient_ids, ImageFolder, FolderFiles, folder_files, load_image_folder
)
