"""Models that outline structures, one answer per pixel: a small U-Net and FCN-8 (notebook 08_segmentation).
"""

from __future__ import annotations

from radkit.errors import RadkitError

from radkit.models.losses import set_task
from radkit.models.saving import _keras


def unet(input_shape=(128, 128, 1), n_classes: int = 1, base_filters: int = 16, depth: int = 3):
    """A small U-Net for outlining structures, one probability per pixel (notebook 08).

    The encoder halves the picture ``depth`` times while learning what is
    there; the decoder doubles it back, and skip connections bring back the
    fine detail of where. With ``base_filters=16`` it has about 470,000 weights.
    """
    keras = _keras()
    layers = keras.layers

    def double_conv(x, width, name):
        for j in (1, 2):
            x = layers.Conv2D(width, 3, padding="same", activation="relu", name=f"{name}_conv{j}")(x)
        return x

    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x, skips = inputs, []
    for level in range(depth):
        x = double_conv(x, base_filters * 2**level, f"down{level + 1}")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"pool{level + 1}")(x)
    x = double_conv(x, base_filters * 2**depth, "bottom")
    for level in reversed(range(depth)):
        width = base_filters * 2**level
        x = layers.Conv2DTranspose(width, 2, strides=2, padding="same", name=f"up{level + 1}")(x)
        x = layers.Concatenate(name=f"skip{level + 1}")([x, skips[level]])
        x = double_conv(x, width, f"dec{level + 1}")
    outputs = layers.Conv2D(n_classes, 1, activation="sigmoid" if n_classes == 1 else "softmax", name="mask")(x)
    return set_task(keras.Model(inputs, outputs, name="unet"), "segmentation")


def fcn8(input_shape=(64, 64, 1), n_classes: int = 1, base_filters: int = 16):
    """FCN-8: the first fully convolutional outliner (Long et al. 2015), CPU-sized, beside ``unet`` (notebook 08).

    Five blocks halve the picture five times (down to 1/32). The answer is made at
    1/32, doubled and added to a guess from 1/16, doubled again and added to one from
    1/8, then enlarged 8 times in one step. There are no skip connections at full
    size, so its outlines are blockier than a U-Net's. Height and width must be multiples of 32.
    """
    keras = _keras()
    layers = keras.layers
    if input_shape[0] % 32 or input_shape[1] % 32:
        raise RadkitError(f"FCN-8 needs a height and width that are multiples of 32; got {tuple(input_shape[:2])}.",
                          "Pad the slices, e.g. radkit.volumes.to_slices(..., size=(64, 64)).")
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x, pooled = inputs, {}
    for block, (width, convs) in enumerate(zip((1, 2, 4, 8, 8), (2, 2, 3, 3, 3)), start=1):
        for j in range(1, convs + 1):
            x = layers.Conv2D(base_filters * width, 3, padding="same", activation="relu", name=f"block{block}_conv{j}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{block}")(x)
        pooled[block] = x
    x = layers.Conv2D(base_filters * 16, 3, padding="same", activation="relu", name="fc6")(x)
    x = layers.Conv2D(base_filters * 16, 1, activation="relu", name="fc7")(x)
    score = layers.Conv2D(n_classes, 1, name="score32")(x)
    score = layers.Conv2DTranspose(n_classes, 4, strides=2, padding="same", name="up32")(score)
    score = layers.Add(name="fuse16")([score, layers.Conv2D(n_classes, 1, name="score16")(pooled[4])])
    score = layers.Conv2DTranspose(n_classes, 4, strides=2, padding="same", name="up16")(score)
    score = layers.Add(name="fuse8")([score, layers.Conv2D(n_classes, 1, name="score8")(pooled[3])])
    score = layers.Conv2DTranspose(n_classes, 16, strides=8, padding="same", name="up8")(score)
    outputs = layers.Activation("sigmoid" if n_classes == 1 else "softmax", name="mask")(score)
    return set_task(keras.Model(inputs, outputs, name="fcn8"), "segmentation")
