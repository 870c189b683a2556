"""Write a trained Keras model in TensorFlow.js's format (model.json and weight files) with radkit.json beside
it: labels, preprocessing, and what the page needs for heatmaps. Introduced in notebook 09_browser_app.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from radkit.errors import RadkitError

from radkit.deploy.site import TFJS_VERSION


SHARD_BYTES = 4 * 1024 * 1024  # the official converter's default shard size


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


# RadKit's own layers that the web page implements itself (radkit/webapp/app.js registers the same class
# with TensorFlow.js): class name -> the Keras module that defines it. Their config is written as Keras
# gives it (with the dtype policy simplified), their weights in Keras's order.
RADKIT_LAYERS = {"BoxEdges": "radkit.models.detection"}  # notebook 07's box_regressor(head="edges"): weights x_bias, y_bias


# Activation functions computed the same way in Keras 3 and TensorFlow.js.
ACTIVATIONS = {"linear": "linear", "relu": "relu", "relu6": "relu6", "sigmoid": "sigmoid",
               "softmax": "softmax", "tanh": "tanh", "elu": "elu", "selu": "selu",
               "softplus": "softplus", "softsign": "softsign", "swish": "swish", "silu": "swish"}


# Keys of a Keras 3 layer config that TensorFlow.js does not need (weights are loaded anyway).
DROP_KEYS = ("initializer", "regularizer", "constraint")


# TensorFlow.js names some weights differently from Keras 3.
WEIGHT_NAMES = {"DepthwiseConv2D": {"kernel": "depthwise_kernel"}}


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
        custom = RADKIT_LAYERS.get(cls) == module
        if module and not custom and not module.startswith("keras.layers") \
                and cls not in ("Sequential", "Functional", "Model"):
            raise _refuse(name, f"{module}.{cls}", "it is a Keras operation, not a layer")
        if _is_inactive(entry):
            if len(refs_per_node) != 1 or len(refs_per_node[0]) != 1:
                raise _refuse(name, cls, "it is used more than once")
            alias[name] = resolve(refs_per_node[0][0])
            continue
        if cls in ("Sequential", "Functional", "Model"):
            raise _refuse(name, cls, "it is a model inside the model; build transfer models flat, "
                                     "with the base built on the model's own input")
        if cls not in SUPPORTED and not custom:
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
    """True for notebook 07's box regressor (radkit.models.box_regressor): four outputs named 'box', from a
    sigmoid dense layer (head="dense") or from BoxEdges (head="edges"); both give fractions of the input."""
    last = model.outputs[0]._keras_history[0]
    activation = getattr(getattr(last, "activation", None), "__name__", "")
    edges = last.__class__.__name__ == "BoxEdges" and last.__class__.__module__ == RADKIT_LAYERS["BoxEdges"]
    return last.name == "box" and tuple(model.outputs[0].shape)[1:] == (4,) and (activation == "sigmoid" or edges)


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
                pixel_offset: float = 0.0, title: str | None = None, window=None, scope=None) -> Path:
    """Save a Keras model for TensorFlow.js: model.json, weight files, and radkit.json beside them.

    Introduced in notebook 09. ``label_names`` are the names of the outputs (for one sigmoid output:
    negative first, then positive). The web page turns each pixel (0-255) into
    ``pixel / pixel_divisor + pixel_offset``; the default is what ``radkit.data.to_model_input``
    does (pixel / 255). ``float16=True`` halves the size on disk (the browser turns the weights back into float32).
    ``window=(level, width)`` makes the page show DICOM files through that window instead of their own (for a
    model trained on, say, lung-window CT). A classifier that ends in global average pooling and one dense
    layer also gets what the page needs to draw its class activation map (``radkit.explain.cam``).
    ``scope`` (what ``radkit.report.learn_scope`` returns) goes with the model: the page then refuses a DICOM
    whose header is outside it, and withholds the answer for a picture that does not look like the training
    films, computed as ``scope.check`` computes it in Python (its numbers in ``scope.bin``).
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

    if scope is not None:
        _check_scope(scope, model, height, width, channels, pixel_divisor, pixel_offset)
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
    if scope is not None:  # the average features, then the whitening matrix row by row: float32, little-endian
        (folder / "scope.bin").write_bytes(np.concatenate([np.ravel(scope.mean), np.ravel(scope.whitening)])
                                           .astype("<f4").tobytes())
        metadata["scope"] = dict(scope.describe(), file="scope.bin", features=int(np.size(scope.mean)),
                                 message=_scope_message(), modality_names=_modality_names())
    elif (folder / "scope.bin").is_file():  # radkit's own earlier export (checked above)
        (folder / "scope.bin").unlink()
    (folder / "radkit.json").write_text(json.dumps(metadata, indent=1), encoding="utf-8")
    return folder


def _modality_names() -> dict:
    from radkit.report import MODALITY_NAMES

    return dict(MODALITY_NAMES)


def _scope_message() -> str:
    from radkit.report import SCOPE_MESSAGE

    return SCOPE_MESSAGE


def _check_scope(scope, model, height, width, channels, pixel_divisor, pixel_offset) -> None:
    """Refuse a scope learned for another model (other layers or another input)."""
    from radkit.report import Scope

    if not isinstance(scope, Scope):
        raise RadkitError(f"scope= should be what radkit.report.learn_scope returns; got {type(scope).__name__}.",
                          "Pass scope=report.learn_scope(model, train_images, val_images), or leave it out.")
    names = {layer.name for layer in model.layers}
    wanted = {"height": height, "width": width, "channels": channels, "pixel_divisor": pixel_divisor,
              "pixel_offset": pixel_offset}
    if not set(scope.layers) <= names or any(float(scope.input[k]) != float(v) for k, v in wanted.items()):
        raise RadkitError("This scope was learned for another model (other layers or another input size).",
                          "Learn the scope again with this model: report.learn_scope(model, train_images, val_images).")


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
