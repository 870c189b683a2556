"""Put a trained model in a web page that runs on a laptop or phone, offline and private.

Introduced in notebook 09_browser_app. Four steps, one function each:

- ``export_tfjs(model, folder)`` writes the model in TensorFlow.js's format
  (``model.json`` plus weight files) and, beside it, ``radkit.json``: the
  label names and the preprocessing the model expects (size, channels,
  scaling). radkit writes this format itself: the official converter cannot
  be installed beside TensorFlow 2.21, and its output for Keras 3 models
  does not load.
- ``build_webapp(model_folder, site)`` makes a static web site: one page,
  TensorFlow.js and dicom-parser copied in, and the model. Nothing is fetched from anywhere
  else, so it works offline and the images never leave the device. The page opens PNG, JPEG and
  DICOM, uncompressed or compressed as hospitals export it (read as ``radkit.dicom.load_image`` does), draws a classifier's heatmap
  (``radkit.explain.cam``), a segmentation's outline and area, a box model's box, and the model card.
- ``serve(site)`` shows the site at ``http://127.0.0.1:PORT`` from a
  background thread, so the notebook stays usable.
- ``try_in_browser(url, ...)`` opens the page in a real (headless) Chromium,
  runs the model there and can save a screenshot.

``preprocess(image, model_folder)`` prepares an image in Python exactly as
the web page does, so the two can be compared number for number.
"""

from radkit.deploy.site import (  # noqa: F401
    TFJS_VERSION, DICOM_PARSER_VERSION, WEBAPP_DIR, SITE_MARKER, SITE_ENTRIES, _node_modules_candidates,
    tfjs_files, DEFAULT_NOTICE, build_webapp, ICON_SIZES
)
from radkit.deploy.export import (  # noqa: F401
    SHARD_BYTES, INACTIVE_AT_INFERENCE, SUPPORTED, ACTIVATIONS, DROP_KEYS, WEIGHT_NAMES, export_tfjs,
    folder_size
)
from radkit.deploy.prepare import preprocess, preprocess_pixels, _dicom_through_window, _crop  # noqa: F401
from radkit.deploy.browser import Server, serve, find_chromium, browser_missing, try_in_browser  # noqa: F401
