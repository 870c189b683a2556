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
  uncompressed DICOM (read as ``radkit.dicom.load_image`` does), draws a classifier's heatmap
  (``radkit.explain.cam``), a segmentation's outline and area, a box model's box, and the model card.
- ``serve(site)`` shows the site at ``http://127.0.0.1:PORT`` from a
  background thread, so the notebook stays usable.
- ``try_in_browser(url, ...)`` opens the page in a real (headless) Chromium,
  runs the model there and can save a screenshot.

``preprocess(image, model_folder)`` prepares an image in Python exactly as
the web page does, so the two can be compared number for number.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np

from radkit.errors import RadkitError

TFJS_VERSION = "4.22.0"
DICOM_PARSER_VERSION = "1.8.21"  # npm dicom-parser: reads DICOM files in the page (notebook 09)
WEBAPP_DIR = Path(__file__).parent / "webapp"
SHARD_BYTES = 4 * 1024 * 1024  # the official converter's default shard size
# build_webapp writes this file into every site it makes; only such a folder is ever replaced.
SITE_MARKER = ".radkit-site"
SITE_ENTRIES = {SITE_MARKER, "index.html", "app.js", "app.css", "app.json", "model", "vendor",
                "dicom.js", "model_card.json"}
# What _make_installable adds (offline use and "Add to home screen"): also build_webapp's own files.
SITE_ENTRIES |= {"offline.js", "sw.js", "manifest.webmanifest", "icons"}

# Layers that do nothing once a model is trained (augmentation, noise, dropout):
# the exporter leaves them out and connects their input straight to their output.
INACTIVE_AT_INFERENCE = {
    "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast",
    "RandomBrightness", "GaussianNoise", "GaussianDropout", "AlphaDropout", "Dropout",
    "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "ActivityRegularization", "Identity",
}
# Layers TensorFlow.js has, with the same weights in the same order.
SUPPORTED = {
    "InputLayer", "Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Conv2DTranspose", "Dense",
    "BatchNormalization", "LayerNormalization", "Activation", "ReLU", "LeakyReLU", "ELU", "Softmax",
    "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D",
    "UpSampling2D", "ZeroPadding2D", "Cropping2D", "Flatten", "Reshape", "Permute",
    "Add", "Multiply", "Concatenate", "Average", "Maximum", "Minimum", "Subtract",
    "Rescaling", "Normalization", "PReLU",
}
# Activation functions computed the same way in Keras 3 and TensorFlow.js.
ACTIVATIONS = {"linear": "linear", "relu": "relu", "relu6": "relu6", "sigmoid": "sigmoid",
               "softmax": "softmax", "tanh": "tanh", "elu": "elu", "selu": "selu",
               "softplus": "softplus", "softsign": "softsign", "swish": "swish", "silu": "swish"}
# Keys of a Keras 3 layer config that TensorFlow.js does not need (weights are loaded anyway).
DROP_KEYS = ("initializer", "regularizer", "constraint")
# TensorFlow.js names some weights differently from Keras 3.
WEIGHT_NAMES = {"DepthwiseConv2D": {"kernel": "depthwise_kernel"}}


# ----------------------------------------------------------------------------- export


def _refuse(name: str, cls: str, why: str = "") -> RadkitError:
    return RadkitError(
        f"The layer '{name}' ({cls}) cannot be exported to TensorFlow.js{': ' + why if why else ''}.",
        "Build the model from the layers radkit.models uses (Conv2D, BatchNormalization, pooling, "
        "Dense, Concatenate, ...), or replace this layer, then export again. "
        f"Supported layers: {', '.join(sorted(SUPPORTED))}.",
    )


def _tensor_refs(value) -> list:
    """The (layer, node, tensor) references of every Keras tensor in a Keras 3 call's arguments."""
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            return [list(value["config"]["keras_history"])]
        return [ref for item in value.values() for ref in _tensor_refs(item)]
    if isinstance(value, (list, tuple)):
        return [ref for item in value for ref in _tensor_refs(item)]
    return []


def _as_ref_list(refs) -> list:
    """Keras 3 writes a single input or output as [name, 0, 0]; TensorFlow.js wants a list of them."""
    return [list(refs)] if refs and isinstance(refs[0], str) else [list(r) for r in refs]


def _is_inactive(layer_config: dict) -> bool:
    """True for a layer (or a nested model made only of such layers) that does nothing at inference."""
    cls = layer_config["class_name"]
    if cls in ("Sequential", "Functional", "Model"):
        inner = layer_config["config"]["layers"]
        return all(c["class_name"] == "InputLayer" or _is_inactive(c) for c in inner)
    return cls in INACTIVE_AT_INFERENCE


def _layer_config(layer, layer_config: dict) -> dict:
    """Rewrite one Keras 3 layer config into the Keras 2 style TensorFlow.js reads."""
    name, cls = layer.name, layer_config["class_name"]
    config = {}
    for key, value in layer_config["config"].items():
        if any(key.endswith(suffix) for suffix in DROP_KEYS):
            continue
        if key == "dtype" and isinstance(value, dict):  # a DTypePolicy
            value = value.get("config", {}).get("name", "float32")
        if isinstance(value, tuple):
            value = list(value)
        config[key] = value
    if config.get("dtype") not in (None, "float32"):
        raise _refuse(name, cls, f"it computes in {config['dtype']}; export a float32 model")
    if "activation" in config:
        activation = config["activation"]
        if not isinstance(activation, str) or activation not in ACTIVATIONS:
            raise _refuse(name, cls, f"its activation {activation!r} is not available in TensorFlow.js")
        config["activation"] = ACTIVATIONS[activation]
    if cls == "InputLayer":
        config = {"batch_input_shape": list(config["batch_shape"]), "dtype": "float32",
                  "sparse": False, "name": name}
    elif cls == "ReLU":
        if config.get("negative_slope") or config.get("threshold"):
            raise _refuse(name, cls, "ReLU with a negative slope or a threshold")
        config = {"name": name, "max_value": config.get("max_value")}
    elif cls == "UpSampling2D" and config.get("interpolation", "nearest") != "nearest":
        # TensorFlow.js places bilinear samples differently (no half-pixel centres): results would differ.
        raise _refuse(name, cls, f"interpolation={config['interpolation']!r} gives different numbers in "
                                 "TensorFlow.js; use interpolation='nearest' or Conv2DTranspose")
    elif cls == "LeakyReLU":
        config["alpha"] = config.pop("negative_slope", 0.3)
    elif cls in ("Conv2D", "SeparableConv2D", "DepthwiseConv2D", "Conv2DTranspose"):
        if config.pop("groups", 1) != 1:
            raise _refuse(name, cls, "grouped convolutions")
        if config.get("output_padding") is not None:
            raise _refuse(name, cls, "output_padding")
    elif cls in ("Normalization", "Rescaling"):
        # TensorFlow.js has no Normalization layer: (x - mean) / std is x * scale + offset.
        if cls == "Normalization":
            if config.get("invert"):
                raise _refuse(name, cls, "invert=True")
            mean = np.asarray(layer.mean, dtype=np.float64).reshape(-1)
            std = np.maximum(np.sqrt(np.asarray(layer.variance, dtype=np.float64).reshape(-1)), 1e-7)
            scale, offset = 1.0 / std, -mean / std
        else:
            scale = np.asarray(config["scale"], dtype=np.float64).reshape(-1)
            offset = np.asarray(config.get("offset", 0.0), dtype=np.float64).reshape(-1)
        single = scale.size == 1 and offset.size == 1
        config = {"name": name, "dtype": "float32",
                  "scale": float(scale[0]) if single else np.broadcast_to(scale, np.broadcast(scale, offset).shape).tolist(),
                  "offset": float(offset[0]) if single else np.broadcast_to(offset, np.broadcast(scale, offset).shape).tolist()}
        cls = "Rescaling"
    return {"class_name": cls, "config": config, "name": name}


def _topology(model) -> tuple[dict, list]:
    """TensorFlow.js model topology and the list of layers whose weights it needs, in order."""
    keras_config = model.get_config()
    alias: dict[str, list] = {}  # a left-out layer -> the tensor that feeds it

    def resolve(ref):
        ref = list(ref[:3])
        while ref[0] in alias:
            ref = alias[ref[0]]
        return ref

    tfjs_layers, weighted = [], []
    for entry in keras_config["layers"]:
        name, cls = entry["name"], entry["class_name"]
        module = entry.get("module") or ""
        nodes = entry.get("inbound_nodes", [])
        refs_per_node = [_tensor_refs(node.get("args", [])) for node in nodes]
        if module and not module.startswith("keras.layers") and cls not in ("Sequential", "Functional", "Model"):
            raise _refuse(name, f"{module}.{cls}", "it is a Keras operation, not a layer")
        if _is_inactive(entry):
            if len(refs_per_node) != 1 or len(refs_per_node[0]) != 1:
                raise _refuse(name, cls, "it is used more than once")
            alias[name] = resolve(refs_per_node[0][0])
            continue
        if cls in ("Sequential", "Functional", "Model"):
            raise _refuse(name, cls, "it is a model inside the model; build transfer models flat, "
                                     "with the base built on the model's own input")
        if cls not in SUPPORTED:
            raise _refuse(name, cls, "TensorFlow.js has no such layer")
        layer = model.get_layer(name)
        inbound = [[resolve(ref) + [{}] for ref in refs] for refs in refs_per_node]
        converted = _layer_config(layer, entry)
        keepdims = cls.startswith("Global") and converted["config"].pop("keepdims", False)
        if keepdims:
            # TensorFlow.js's global pooling cannot keep the spatial axes: pool, then reshape to 1 x 1.
            pooled = f"{name}__pooled"
            converted["name"] = converted["config"]["name"] = pooled
            converted["inbound_nodes"] = inbound
            tfjs_layers.append(converted)
            channels = int(layer.output.shape[-1])
            converted = {"class_name": "Reshape", "name": name,
                         "config": {"name": name, "target_shape": [1, 1, channels], "dtype": "float32"}}
            inbound = [[[pooled, 0, 0, {}]]]
        converted["inbound_nodes"] = inbound
        tfjs_layers.append(converted)
        if layer.weights and converted["class_name"] != "Rescaling":
            weighted.append((layer, cls))

    topology = {
        "class_name": "Model",
        "config": {
            "name": keras_config.get("name", model.name),
            "layers": tfjs_layers,
            "input_layers": [resolve(r) for r in _as_ref_list(keras_config["input_layers"])],
            "output_layers": [resolve(r) for r in _as_ref_list(keras_config["output_layers"])],
        },
        "keras_version": "tfjs-layers " + TFJS_VERSION,
        "backend": "tensor_flow.js",
    }
    return topology, weighted


def _weights(weighted, float16: bool) -> tuple[list, bytes]:
    """Weight specs for model.json and their bytes (little-endian), in the same order."""
    specs, chunks = [], []
    for layer, cls in weighted:
        renames = WEIGHT_NAMES.get(cls, {})
        for variable in layer.weights:
            short = variable.name.split("/")[-1]
            values = np.asarray(variable.numpy(), dtype=np.float32)
            spec = {"name": f"{layer.name}/{renames.get(short, short)}", "shape": list(values.shape),
                    "dtype": "float32"}
            if float16:
                if np.abs(values).max(initial=0) > 65000:
                    raise RadkitError(f"The weight {spec['name']} has values too large for float16.",
                                      "Export with float16=False.")
                values = values.astype(np.float16)
                spec["quantization"] = {"dtype": "float16"}
            specs.append(spec)
            chunks.append(values.astype(values.dtype.newbyteorder("<")).tobytes())
    return specs, b"".join(chunks)


def _is_box_regressor(model) -> bool:
    """True for notebook 07's box regressor (radkit.models.box_regressor): four sigmoid outputs named 'box'."""
    last = model.outputs[0]._keras_history[0]
    activation = getattr(getattr(last, "activation", None), "__name__", "")
    return last.name == "box" and tuple(model.outputs[0].shape)[1:] == (4,) and activation == "sigmoid"


def _cam_layers(topology: dict) -> dict | None:
    """For a classifier that ends in global average pooling then one dense layer: the names the page needs
    to draw the class activation map (the feature maps that are pooled, and the dense layer), else None."""
    layers = {layer["name"]: layer for layer in topology["config"]["layers"]}
    output = layers[topology["config"]["output_layers"][0][0]]
    inbound = output.get("inbound_nodes") or [[]]
    if output["class_name"] != "Dense" or len(inbound) != 1 or len(inbound[0]) != 1:
        return None
    pool = layers[inbound[0][0][0]]
    pool_inbound = pool.get("inbound_nodes") or [[]]
    if pool["class_name"] != "GlobalAveragePooling2D" or len(pool_inbound) != 1 or len(pool_inbound[0]) != 1:
        return None
    return {"features": pool_inbound[0][0][0], "dense": output["name"],
            "method": "class activation map: the dense layer's weights times the pooled feature maps (Zhou et al. 2016)"}


def _describe_output(model, label_names):
    """('classification', 'segmentation' or 'detection', 'sigmoid'/'softmax'/..., label names)."""
    shape = tuple(model.outputs[0].shape)
    last = model.outputs[0]._keras_history[0]  # the layer that makes the output
    activation = getattr(last, "activation", None)
    activation = getattr(activation, "__name__", "linear") if activation is not None else "linear"
    if last.__class__.__name__ == "Softmax":
        activation = "softmax"
    if _is_box_regressor(model):  # one box: [x_min, y_min, x_max, y_max] as fractions of the input
        label_names = [str(x) for x in (label_names or ["heart"])]
        if len(label_names) != 1:
            raise RadkitError(f"A box model finds one thing, but {len(label_names)} label names were given.",
                              "Give one name, for example label_names=['heart'].")
        return "detection", activation, label_names
    task = "segmentation" if len(shape) == 4 else "classification"
    n = int(shape[-1])
    if label_names is None:
        if task == "segmentation":
            label_names = ["background", "structure"] if n == 1 else [f"class {i}" for i in range(n)]
        else:
            label_names = ["negative", "positive"] if n == 1 else [f"class {i}" for i in range(n)]
    label_names = [str(x) for x in label_names]
    expected = 2 if n == 1 and activation == "sigmoid" else n
    if len(label_names) != expected and not (n == 1 and len(label_names) == 1):
        raise RadkitError(f"The model has {n} output(s) but {len(label_names)} label names were given.",
                          f"Give {expected} label names, in the order of the model's outputs"
                          + (" (negative first, then positive)." if expected == 2 and n == 1 else "."))
    if n == 1 and len(label_names) == 1:
        label_names = ["not " + label_names[0], label_names[0]]
    return task, activation, label_names


def export_tfjs(model, folder, label_names=None, float16: bool = False, pixel_divisor: float = 255.0,
                pixel_offset: float = 0.0, title: str | None = None, window=None) -> Path:
    """Save a Keras model for TensorFlow.js: model.json, weight files, and radkit.json beside them.

    Introduced in notebook 09. ``label_names`` are the names of the outputs (for one sigmoid output:
    negative first, then positive). The web page turns each pixel (0-255) into
    ``pixel / pixel_divisor + pixel_offset``; the default is what ``radkit.data.to_model_input``
    does (pixel / 255). ``float16=True`` halves the size on disk (the browser turns the weights back into float32).
    ``window=(level, width)`` makes the page show DICOM files through that window instead of their own (for a
    model trained on, say, lung-window CT). A classifier that ends in global average pooling and one dense
    layer also gets what the page needs to draw its class activation map (``radkit.explain.cam``).
    Returns the folder.

    >>> export_tfjs(model, "export/pneumonia_cnn", label_names=["normal", "pneumonia"])
    """
    import keras

    if not isinstance(model, keras.Model) or not hasattr(model, "get_config"):
        raise RadkitError(f"export_tfjs needs a Keras model; it was given {type(model).__name__}.",
                          "Pass the model you trained, for example export_tfjs(model, 'export/my_model').")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise RadkitError("export_tfjs handles models with one input and one output.",
                          "Export a model with a single image input and a single output.")
    if isinstance(model, keras.Sequential):  # rebuild it as a Functional model with the same layers
        x = inputs = keras.Input(batch_shape=model.inputs[0].shape)
        for layer in model.layers:
            x = layer(x)
        model = keras.Model(inputs, x, name=model.name)
    _, height, width, channels = (int(d) if d is not None else None for d in model.inputs[0].shape)
    if None in (height, width, channels):
        raise RadkitError("The model's input has no fixed size, so the web page cannot know how to resize images.",
                          "Build the model with a fixed input shape, for example keras.Input((64, 64, 1)).")
    if channels not in (1, 3):
        raise RadkitError(f"The model expects {channels} channels; the web page can give 1 (grey) or 3 (colour).",
                          "Build the model for grey (1) or colour (3) images.")

    if window is not None and not (len(window) == 2 and float(window[1]) > 0):
        raise RadkitError(f"window={window!r} is not a (level, width) pair with a positive width.",
                          "Use for example window=(-600, 1500) for a lung window, or leave it out.")
    topology, weighted = _topology(model)
    specs, data = _weights(weighted, float16)
    task, activation, label_names = _describe_output(model, label_names)

    folder = Path(folder)
    _check_export_folder(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("group1-shard*.bin"):  # radkit's own earlier export (checked above)
        old.unlink()
    n_shards = max(1, math.ceil(len(data) / SHARD_BYTES))
    paths = [f"group1-shard{i + 1}of{n_shards}.bin" for i in range(n_shards)]
    for i, path in enumerate(paths):
        (folder / path).write_bytes(data[i * SHARD_BYTES:(i + 1) * SHARD_BYTES])
    model_json = {
        "format": "layers-model",
        "generatedBy": f"keras v{keras.__version__}",
        "convertedBy": "radkit.deploy.export_tfjs",
        "modelTopology": topology,
        "weightsManifest": [{"paths": paths, "weights": specs}],
    }
    (folder / "model.json").write_text(json.dumps(model_json), encoding="utf-8")
    metadata = {
        "title": title or model.name,
        "task": task,
        "output": activation,
        "labels": label_names,
        "input": {"height": height, "width": width, "channels": channels,
                  "pixel_divisor": pixel_divisor, "pixel_offset": pixel_offset,
                  "steps": ["turn to grey (0.299 R + 0.587 G + 0.114 B)" if channels == 1 else "keep colour",
                            "crop the centre to the model's shape", "resize (bilinear, like Pillow)",
                            f"pixel / {pixel_divisor:g} + {pixel_offset:g}"]},
        "cam": _cam_layers(topology) if task == "classification" else None,
        "weights": "float16" if float16 else "float32",
        "parameters": int(model.count_params()),
        "keras_version": keras.__version__,
        "tfjs_version": TFJS_VERSION,
    }
    if window is not None:  # DICOM files are shown through the model's window, not their own
        metadata["input"]["window"] = [float(window[0]), float(window[1])]
        metadata["input"]["steps"].insert(0, f"DICOM: window level {window[0]:g}, width {window[1]:g}")
    (folder / "radkit.json").write_text(json.dumps(metadata, indent=1), encoding="utf-8")
    return folder


def _exported_by_radkit(folder: Path) -> bool:
    """True when ``folder`` holds an export that export_tfjs itself wrote (its model.json says so)."""
    try:
        model_json = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (isinstance(model_json, dict) and model_json.get("convertedBy") == "radkit.deploy.export_tfjs"
            and (folder / "radkit.json").is_file())


def _check_export_folder(folder: Path) -> None:
    """Refuse to overwrite model files in ``folder`` that radkit did not write (radkit never replaces your files)."""
    from radkit.config import display_path

    if folder.exists() and not folder.is_dir():
        raise RadkitError(f"{display_path(folder)} is a file, not a folder.",
                          "Give export_tfjs the name of a new folder, for example 'export/my_model'.")
    if not folder.is_dir():
        return
    ours = [folder / "model.json", folder / "radkit.json", *folder.glob("group1-shard*.bin")]
    clash = [p.name for p in ours if p.exists()]
    if clash and not _exported_by_radkit(folder):
        raise RadkitError(
            f"{display_path(folder)} already holds {', '.join(sorted(clash))}, which radkit did not write, so "
            "exporting there would overwrite them. RadKit never replaces files it did not make.",
            "Export into a new folder, for example export_tfjs(model, 'export/my_model').")


def folder_size(folder) -> int:
    """Total size in bytes of the files in a folder (to see how big a model or a site is)."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


# ----------------------------------------------------------------------------- preprocessing


def _resize_weights(in_size: int, out_size: int) -> np.ndarray:
    """Pillow's bilinear resampling weights (a triangle filter widened when shrinking), as a matrix."""
    scale = in_size / out_size
    filter_scale = max(scale, 1.0)
    support = 1.0 * filter_scale
    matrix = np.zeros((out_size, in_size), dtype=np.float64)
    for i in range(out_size):
        center = (i + 0.5) * scale
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), in_size)
        x = (np.arange(lo, hi) - center + 0.5) / filter_scale
        w = np.clip(1.0 - np.abs(x), 0.0, None)
        if w.sum() != 0:
            w = w / w.sum()
        matrix[i, lo:hi] = w
    return matrix


def preprocess(image, model_folder) -> np.ndarray:
    """Prepare one image exactly as the web page does: float32 of shape (1, height, width, channels).

    Introduced in notebook 09. ``image`` is a file path, or an array (H, W) of grey or (H, W, 3)
    of colour values 0-255. A file is decoded by ``radkit.data.decode_image``, the same path as
    training uses (EXIF orientation applied, transparency on black, 16-bit as value // 256, as the
    browser does; DICOM through ``radkit.dicom.load_image``, or through the model's own window when it
    was exported with ``window=``). Steps: grey (0.299 R + 0.587 G + 0.114 B), crop the centre to the model's
    shape, resize like Pillow's bilinear, then ``pixel / pixel_divisor + pixel_offset``.
    """
    meta = json.loads((Path(model_folder) / "radkit.json").read_text(encoding="utf-8"))["input"]
    if isinstance(image, (str, os.PathLike)):
        from radkit.data import decode_image, is_dicom

        if meta.get("window") and is_dicom(Path(image)):
            image = _dicom_through_window(image, meta["window"])
        else:
            image = decode_image(image)
    pixels = np.asarray(image, dtype=np.float64)
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=-1)
    if meta["channels"] == 1:
        planes = (pixels[..., 0] * 0.299 + pixels[..., 1] * 0.587 + pixels[..., 2] * 0.114)[..., None]
    else:
        planes = pixels[..., :3]
    planes = planes.astype(np.float32).astype(np.float64)  # the page keeps grey values as float32
    rows, cols = planes.shape[:2]
    height, width = meta["height"], meta["width"]
    crop_h, crop_w = _crop(rows, cols, height, width)
    top, left = (rows - crop_h) // 2, (cols - crop_w) // 2
    planes = planes[top:top + crop_h, left:left + crop_w]
    # Horizontal pass then vertical, keeping float32 in between, as Pillow (and the page) does.
    planes = np.einsum("ox,yxc->yoc", _resize_weights(crop_w, width), planes).astype(np.float32).astype(np.float64)
    planes = np.einsum("oy,yxc->oxc", _resize_weights(crop_h, height), planes).astype(np.float32)
    out = planes / np.float32(meta["pixel_divisor"]) + np.float32(meta["pixel_offset"])
    return out[None].astype(np.float32)


def _dicom_through_window(path, window) -> np.ndarray:
    """A DICOM file as radkit.dicom.load_image reads it (middle frame, MONOCHROME1 inverted), but shown through
    the model's window instead of the file's own: what the page does for a model exported with ``window=``."""
    from radkit import dicom

    ds = dicom.read(path)
    values, frame = dicom.pixels(ds), 0
    if values.ndim == 3:
        frame = len(values) // 2
        values = values[frame]
    return np.round(dicom.display_image(ds, window=tuple(window), values=values, frame=frame) * 255).astype(np.uint8)


def _crop(rows: int, cols: int, height: int, width: int) -> tuple[int, int]:
    """Size of the largest centred crop with the model's aspect ratio (same rule as the page)."""
    if cols * height > rows * width:  # too wide
        return rows, max(1, math.floor(rows * width / height + 0.5))
    return max(1, math.floor(cols * height / width + 0.5)), cols


# ----------------------------------------------------------------------------- TensorFlow.js files


def _node_modules_candidates() -> list[Path]:
    from radkit.config import data_dir

    places = []
    if os.environ.get("RADKIT_NODE_MODULES"):
        places.append(Path(os.environ["RADKIT_NODE_MODULES"]))
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        places += [p / "node_modules" for p in (start, *start.parents)]
    places.append(data_dir() / "tfjs" / "node_modules")
    return places


def tfjs_files(install: bool = True) -> dict[str, Path]:
    """Find (or install with npm) TensorFlow.js, its WASM backend and dicom-parser; returns {file name: path}.

    Introduced in notebook 09. Looks in the project's ``node_modules`` (made by ``npm ci``), then in
    RadKit's data folder; if absent and ``install`` is True, runs ``npm install`` into the data folder.
    """
    # The ES2017 builds: smaller, and unlike the ES5 ones they never call eval (which the page forbids).
    wanted = {"tf.es2017.min.js": "@tensorflow/tfjs/dist/tf.es2017.min.js",
              "tf-backend-wasm.es2017.min.js": "@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.es2017.min.js"}
    wasm = ["tfjs-backend-wasm.wasm", "tfjs-backend-wasm-simd.wasm", "tfjs-backend-wasm-threaded-simd.wasm"]
    wanted.update({w: f"@tensorflow/tfjs-backend-wasm/dist/{w}" for w in wasm})
    wanted["dicomParser.min.js"] = "dicom-parser/dist/dicomParser.min.js"  # reads DICOM files in the page
    versions = {"@tensorflow/tfjs": TFJS_VERSION, "dicom-parser": DICOM_PARSER_VERSION}
    for base in _node_modules_candidates():
        if all((base / rel).is_file() for rel in wanted.values()) and all(
                (base / pkg / "package.json").is_file()
                and json.loads((base / pkg / "package.json").read_text())["version"] == version
                for pkg, version in versions.items()):
            return {name: base / rel for name, rel in wanted.items()}
    if not install:
        raise RadkitError(f"TensorFlow.js {TFJS_VERSION} was not found.",
                          "Run `npm ci` in the radkit project folder (needs Node.js), or call tfjs_files(install=True).")
    npm = shutil.which("npm")
    if npm is None:
        raise RadkitError("TensorFlow.js is needed to build the web app, and npm (Node.js) is not installed.",
                          "Install Node.js from https://nodejs.org (it includes npm), then run this cell again.")
    from radkit.config import data_dir, display_path

    target = data_dir() / "tfjs"
    target.mkdir(parents=True, exist_ok=True)
    print(f"Installing TensorFlow.js {TFJS_VERSION} with npm into {display_path(target)} (once; about 20 s)...")
    result = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(target),
                             f"@tensorflow/tfjs@{TFJS_VERSION}", f"@tensorflow/tfjs-backend-wasm@{TFJS_VERSION}",
                             f"dicom-parser@{DICOM_PARSER_VERSION}"],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RadkitError(f"npm could not install TensorFlow.js:\n{result.stderr[-800:]}",
                          "Check the internet connection (npm needs registry.npmjs.org), then try again.")
    return tfjs_files(install=False)


# ----------------------------------------------------------------------------- the web app


DEFAULT_NOTICE = ("For teaching only: this model has not been validated for clinical use. "
                  "Do not use it to make decisions about patients.")


def build_webapp(model_folder, site, title: str | None = None, learn_more: dict | None = None,
                 notice: str = DEFAULT_NOTICE, about: str = "", model_card=None) -> Path:
    """Make a static web site that runs an exported model in the browser. Returns the site folder.

    Introduced in notebook 09. ``model_folder`` is what ``export_tfjs`` wrote. ``learn_more`` maps a
    label to a web page about that finding (shown as a link; nothing is fetched from it).
    Copy the site folder to any static host (GitHub Pages, a hospital intranet server) as it is.
    ``model_card`` (a ``radkit.report.ModelCard`` or its ``.md`` file) is shown under "About this model":
    intended use, not for use, and the measured metrics with their intervals. Left out, a card saved beside
    the exported model (``card.save_beside(model_folder)``, i.e. ``<folder>.model_card.md``) is used.
    After one visit the app also opens with the network off, and a phone can install it (home screen).

    >>> build_webapp("export/pneumonia_cnn", "site", learn_more={"pneumonia": "https://radiopaedia.org/articles/pneumonia"})
    """
    model_folder, site = Path(model_folder), Path(site)
    if not (model_folder / "model.json").is_file() or not (model_folder / "radkit.json").is_file():
        raise RadkitError(f"{model_folder} does not hold an exported model (model.json and radkit.json).",
                          "Run radkit.deploy.export_tfjs(model, folder) first and pass that folder.")
    files = tfjs_files()
    meta = json.loads((model_folder / "radkit.json").read_text(encoding="utf-8"))
    unknown = sorted(set(learn_more or {}) - set(meta["labels"]))
    if unknown:
        raise RadkitError(f"learn_more names labels the model does not have: {unknown}.",
                          f"Use the model's labels: {meta['labels']}.")
    card = _model_card_summary(model_folder, model_card)
    _clear_old_site(site, model_folder)
    site.mkdir(parents=True, exist_ok=True)
    (site / SITE_MARKER).write_text("Made by radkit.deploy.build_webapp; build_webapp may replace this folder.\n",
                                    encoding="utf-8")
    (site / "vendor").mkdir()
    shutil.copytree(model_folder, site / "model")
    for name, path in files.items():
        shutil.copy2(path, site / "vendor" / name)
    for name in ("index.html", "app.js", "app.css", "dicom.js"):
        shutil.copy2(WEBAPP_DIR / name, site / name)
    if card is not None:
        (site / "model_card.json").write_text(json.dumps(card, indent=1), encoding="utf-8")
    app = {"title": title or meta.get("title") or "RadKit model", "notice": notice, "about": about,
           "learn_more": learn_more or {}, "model_card": card is not None}
    (site / "app.json").write_text(json.dumps(app, indent=1), encoding="utf-8")
    html = (site / "index.html").read_text(encoding="utf-8")
    (site / "index.html").write_text(html.replace("{{TITLE}}", _escape(app["title"])), encoding="utf-8")
    _make_installable(site, app["title"])  # last: its list of files to keep offline is what is in the site now
    return site


ICON_SIZES = (192, 512)
_ICON_FILES = {f"icon-{size}.png" for size in ICON_SIZES}


def _icon(size: int):
    """The app's icon: a phantom chest film on the app's blue, inside the safe zone of a round mask."""
    from PIL import Image

    from radkit import phantoms

    icon = Image.new("RGB", (size, size), (11, 110, 153))
    inner = round(size * 0.56)
    film = phantoms.chest_xray(size=inner, seed=0)["image"]
    icon.paste(Image.fromarray(film), ((size - inner) // 2, (size - inner) // 2))
    return icon


def _make_installable(site: Path, title: str) -> None:
    """Add what makes the site installable and usable offline: icons, a web app manifest and the
    service worker (sw.js, from webapp/sw.js) with the list of every file in the site and their hash."""
    import hashlib

    (site / "icons").mkdir()
    for size in ICON_SIZES:
        _icon(size).save(site / "icons" / f"icon-{size}.png", optimize=False)
    manifest = {"name": title, "short_name": title if len(title) <= 12 else "RadKit app",
                "description": "Runs a teaching model on this device; images are never uploaded. Not for diagnosis.",
                "start_url": "./", "scope": "./", "display": "standalone",
                "background_color": "#f7f9fa", "theme_color": "#0b6e99",
                "icons": [{"src": f"icons/icon-{s}.png", "sizes": f"{s}x{s}", "type": "image/png",
                           "purpose": "any maskable"} for s in ICON_SIZES]}
    (site / "manifest.webmanifest").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    shutil.copy2(WEBAPP_DIR / "offline.js", site / "offline.js")
    files = sorted(p.relative_to(site).as_posix() for p in site.rglob("*")
                   if p.is_file() and p.name not in (SITE_MARKER, "sw.js"))
    digest = hashlib.sha256()
    for name in files:
        digest.update(name.encode() + b"\0" + (site / name).read_bytes() + b"\0")
    worker = (WEBAPP_DIR / "sw.js").read_text(encoding="utf-8")
    worker = worker.replace("{{VERSION}}", digest.hexdigest()[:16]).replace("['{{FILES}}']", json.dumps(["./", *files]))
    (site / "sw.js").write_text(worker, encoding="utf-8")


def _model_card_summary(model_folder: Path, model_card) -> dict | None:
    """What the page shows from a model card (given, or saved beside the exported model), or None."""
    from radkit import report

    if model_card is None:
        beside = model_folder.with_name(model_folder.name + ".model_card.md")
        if not beside.is_file():
            return None
        model_card = beside
    if isinstance(model_card, report.ModelCard):
        return report.card_summary(model_card.markdown)
    path = Path(model_card)
    if not path.is_file():
        raise RadkitError(f"There is no model card at {path.name}.",
                          "Pass the card itself (what report.model_card returns) or the .md file it was saved to.")
    return report.card_summary(path.read_text(encoding="utf-8"))


def _clear_old_site(site: Path, model_folder: Path) -> None:
    """Remove an earlier site that build_webapp made; refuse any other folder (radkit never deletes your files).

    A folder counts as a site radkit made when it holds the marker file (or, for sites built before the
    marker existed, exactly the files build_webapp writes) and nothing else.
    """
    from radkit.config import display_path

    shown = display_path(site)
    fix = ("Give build_webapp a new folder name for the site, for example "
           "build_webapp(exported, 'my_site'); or move your own files out of that folder first.")
    site_r, model_r = site.resolve(), model_folder.resolve()
    if site_r == model_r or site_r in model_r.parents or model_r in site_r.parents:
        raise RadkitError(f"The site folder {shown} and the model folder {display_path(model_folder)} overlap "
                          "(one is inside the other), so building the site would destroy the model.", fix)
    if not site.exists():
        return
    if not site.is_dir():
        raise RadkitError(f"{shown} is a file, not a folder; build_webapp will not replace it.", fix)
    entries = {p.name for p in site.iterdir()}
    if not entries:
        return
    legacy = {"index.html", "app.json", "model", "vendor"} <= entries and entries <= SITE_ENTRIES
    if SITE_MARKER not in entries and not legacy:
        listing = ", ".join(sorted(entries)[:4]) + (" ..." if len(entries) > 4 else "")
        raise RadkitError(f"The folder {shown} already exists and was not made by build_webapp (it holds "
                          f"{listing}). RadKit never deletes files it did not make.", fix)
    foreign = sorted(entries - SITE_ENTRIES)
    if (site / "icons").is_dir():  # the icons folder holds only the icons build_webapp draws
        foreign += sorted(f"icons/{p.name}" for p in (site / "icons").iterdir() if p.name not in _ICON_FILES)
    if foreign:
        raise RadkitError(f"The site folder {shown} was made by build_webapp, but it now also holds files radkit "
                          f"did not put there ({', '.join(foreign[:4])}), so it will not be replaced.", fix)
    for name in sorted(entries):  # only what build_webapp itself writes
        path = site / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


class Server:
    """A tiny web server for one folder, on this computer only (127.0.0.1), in a background thread."""

    def __init__(self, folder, port: int = 0):
        import functools
        from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

        class Handler(SimpleHTTPRequestHandler):
            extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".wasm": "application/wasm",
                              ".js": "text/javascript", ".json": "application/json",
                              ".webmanifest": "application/manifest+json"}

            def log_message(self, *args):  # keep the notebook quiet
                pass

        self.folder = Path(folder)
        try:
            self._httpd = ThreadingHTTPServer(("127.0.0.1", port),
                                              functools.partial(Handler, directory=str(self.folder)))
        except OSError as error:
            raise RadkitError(f"Port {port} is already in use ({error}).",
                              "Choose another port, or use port=0 to let the computer pick a free one.") from error
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self) -> str:
        from radkit.config import display_path

        return f"Serving {display_path(self.folder)} at {self.url}"


def serve(folder, port: int = 0) -> Server:
    """Show a folder at http://127.0.0.1:PORT/ from a background thread; ``.stop()`` ends it.

    Introduced in notebook 09. Only this computer can open the address. ``port=0`` picks a free port.
    """
    if not (Path(folder) / "index.html").is_file():
        raise RadkitError(f"{folder} has no index.html.", "Build the site first with build_webapp(...).")
    return Server(folder, port)


# ----------------------------------------------------------------------------- a real browser


def find_chromium() -> str | None:
    """Path of a Chromium or Chrome browser on this computer, or None."""
    if os.environ.get("RADKIT_CHROMIUM"):
        return os.environ["RADKIT_CHROMIUM"]
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def browser_missing() -> str | None:
    """Why a headless browser cannot be driven here (None when it can)."""
    if shutil.which("node") is None:
        return "Node.js is not installed (https://nodejs.org)."
    if find_chromium() is None:
        return "no Chromium or Chrome was found (on Debian/Ubuntu: apt-get install -y chromium)."
    if not any((p / "playwright-core" / "package.json").is_file() for p in _node_modules_candidates()):
        return "the npm package playwright-core is missing (run `npm ci` in the radkit project folder)."
    return None


def try_in_browser(url: str, inputs: dict | None = None, files: list | None = None,
                   screenshot=None, repeat: int = 0, backend: str = "wasm",
                   width: int = 420, height: int = 860, timeout: float = 120) -> dict:
    """Open the web app in a headless Chromium and run it; returns what happened.

    Introduced in notebook 09. ``inputs`` maps a name to an array (already preprocessed, shape
    (1, H, W, C)) to run through the model; ``files`` are image files to open as a user would;
    ``screenshot`` is a PNG path saved after the last file; ``repeat`` times each input that many
    times. The result has ``requests`` (every URL the page asked for), ``load_ms``, ``backend``,
    ``outputs`` (name -> array), ``files`` (what the page showed for each file) and ``errors``.
    """
    why = browser_missing()
    if why:
        raise RadkitError(f"Cannot open a headless browser: {why}", "Install it, or open the URL yourself.")
    node_modules = next(p for p in _node_modules_candidates() if (p / "playwright-core" / "package.json").is_file())
    job = {"url": url, "chromium": find_chromium(), "node_modules": str(node_modules),
           "inputs": {k: {"shape": list(np.shape(v)), "data": np.asarray(v, np.float32).ravel().tolist()}
                      for k, v in (inputs or {}).items()},
           "files": [str(Path(f).resolve()) for f in (files or [])],
           "screenshot": str(Path(screenshot).resolve()) if screenshot else None,
           "repeat": repeat, "backend": backend, "width": width, "height": height,
           "timeout_ms": int(timeout * 1000)}
    if screenshot:
        Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        job_path = Path(tmp) / "job.json"
        job_path.write_text(json.dumps(job), encoding="utf-8")
        result = subprocess.run(["node", str(WEBAPP_DIR / "driver.mjs"), str(job_path)],
                                capture_output=True, text=True, timeout=timeout + 60)
    if result.returncode != 0:
        raise RadkitError(f"The headless browser failed:\n{(result.stderr or result.stdout)[-2000:]}",
                          "Check that Chromium starts (chromium --headless --no-sandbox --version).")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    report["outputs"] = {k: np.asarray(v["data"], np.float32).reshape(v["shape"])
                         for k, v in report.get("outputs", {}).items()}
    return report
