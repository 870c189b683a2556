"""The course's models: a small CNN, flat transfer models, a small U-Net and FCN-8, box and cell detectors.

Introduced in notebook 02_first_classifier (``small_cnn``, ``course_classifier``), 04_transfer_learning
(``transfer_model``, ``set_trainable``), 07_detection (``box_regressor``, ``centre_detector``) and
08_segmentation (``unet``, ``fcn8``).
A package: ``saving``, ``losses``, ``classifiers``, ``segmentation``, ``detection``.

Every model radkit builds records what it is for (``task_of(model)``: yes/no, one of several, several
findings, an outline, a box, centres), and ``save_model`` keeps it, so ``radkit.train.fit`` picks the loss
from what the model was built for, never by guessing from its shape.

Every model is a plain Keras Functional model that takes grey pictures as
float32 numbers 0..1, shaped (height, width, 1) - what
``radkit.data.to_model_input`` makes. Layers have names you can look up
(``model.get_layer("last_conv")``), which Grad-CAM needs (notebook 05).
Augmentation is not part of any model: it happens while training
(``radkit.train``), so a saved model holds only what is needed to predict
and exports cleanly to the browser (notebook 09).
"""

from radkit.models.saving import (  # noqa: F401
    _keras, count_params, layer_table, compiled_by_radkit, KERAS_MARK, save_model, load_model
)
from radkit.models.losses import TASKS, set_task, task_of  # noqa: F401
from radkit.models.classifiers import (  # noqa: F401
    TRANSFER_HEAD, BASES, SHIPPED_CLASSIFIER, small_cnn, transfer_model, base_layers, is_pretrained,
    set_trainable, embeddings, spread_labels, saved_classifier_path, course_classifier
)
from radkit.models.segmentation import unet, fcn8  # noqa: F401
from radkit.models.detection import (  # noqa: F401
    box_regressor, predict_boxes, refine_boxes, CENTRE_STRIDE, CENTRE_EXTRA, centre_classes, centre_detector,
    centre_targets, centre_loss, detect, decode_centres
)
