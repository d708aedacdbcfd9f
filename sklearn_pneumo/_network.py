"""The paper's convolutional network, as a scikeras model-building function."""

import random

import keras

from ._fused_batch_norm import FusedBatchNormalization
from ._upstream import keras_random_seed


def _seed_draws():
    """A function giving each random layer its seed, as Keras would draw it.

    Keras gives a layer without a seed ``random.randint(1, 10**9)`` of
    Python's process-wide generator, which ``keras.utils.set_random_seed``
    seeds, and which any other thread of the process may advance meanwhile
    (a Dask worker's own code): the network would then depend on that
    thread's timing. The same draws from a generator of our own, seeded with
    the seed Keras holds for this thread, give the same networks. Without a
    seed set, ``None``: Keras' own draws.
    """
    seed = keras_random_seed()
    if seed is None:
        return lambda: None
    generator = random.Random(seed)
    return lambda: generator.randint(1, int(1e9))


def _conv_padding(height, width, kernel_size):
    """Keep the paper's 'valid' padding while the feature map is large enough."""
    return "valid" if min(height, width) >= kernel_size else "same"


def _convolution(
    filters, kernel_size, padding, batch_norm, momentum, dtype_policy, seed
):
    """A ReLU convolution; with batch normalisation between the two."""
    convolution = keras.layers.Conv2D(
        filters,
        kernel_size,
        padding=padding,
        activation=None if batch_norm else "relu",
        use_bias=not batch_norm,
        kernel_initializer=keras.initializers.GlorotUniform(seed()),
        dtype=dtype_policy,
    )
    if not batch_norm:
        return [convolution]
    return [
        convolution,
        FusedBatchNormalization(momentum=momentum, dtype=dtype_policy),
        keras.layers.Activation("relu", dtype=dtype_policy),
    ]


def _augmentation(
    rotation,
    shift,
    zoom,
    stretch,
    contrast,
    brightness,
    flip,
    noise,
    rotation_fill_mode,
    seed,
):
    """Keras preprocessing layers that change images only while training."""
    layers = [keras.layers.RandomFlip("horizontal", seed=seed())] if flip else []
    if stretch:
        layers.append(
            keras.layers.RandomZoom(
                (-stretch, stretch),
                (-stretch, stretch),
                fill_mode="nearest",
                seed=seed(),
                name="stretch",
            )
        )
    if rotation:
        layers.append(
            keras.layers.RandomRotation(
                rotation, fill_mode=rotation_fill_mode, seed=seed()
            )
        )
    if shift:
        layers.append(
            keras.layers.RandomTranslation(
                shift, shift, fill_mode="nearest", seed=seed()
            )
        )
    if zoom:
        layers.append(keras.layers.RandomZoom(zoom, fill_mode="nearest", seed=seed()))
    if contrast:
        layers.append(
            keras.layers.RandomContrast(contrast, value_range=(0, 1), seed=seed())
        )
    if brightness:
        layers.append(
            keras.layers.RandomBrightness(brightness, value_range=(0, 1), seed=seed())
        )
    if noise:
        layers.append(keras.layers.GaussianNoise(noise, seed=seed()))
    return layers


def build_cnn(
    meta=None,
    *,
    input_shape=(150, 150, 1),
    n_classes=2,
    filters=64,
    kernel_size=3,
    conv_blocks=4,
    dense_units=64,
    batch_norm=False,
    batch_norm_momentum=0.9,
    dropout=0.0,
    rotation=0.0,
    shift=0.0,
    zoom=0.0,
    stretch=0.0,
    contrast=0.0,
    brightness=0.0,
    flip=False,
    noise=0.0,
    rotation_fill_mode="nearest",
    head="flatten",
    dtype_policy=None,
):
    """Build the paper's CNN (uncompiled).

    ``conv_blocks`` convolutions with ReLU, each but the last followed by 2x2
    max pooling, then ``Flatten`` (or a global average, ``head``), a ReLU
    dense layer and a softmax output.
    With the defaults on 150x150x1 input this is exactly the paper's network:
    1,033,218 parameters.

    On small inputs the network still builds: a convolution switches from
    'valid' to 'same' padding once the feature map is narrower than
    ``kernel_size``, and pooling is skipped once it is narrower than 2.

    The other options default to the paper (off). Augmentation layers act only
    while training.

    Parameters
    ----------
    meta : dict or None, default=None
        Set by scikeras when used as ``CNNClassifier(model=build_cnn)``: its
        ``image_size_`` and ``n_classes_`` override ``input_shape`` and
        ``n_classes``.
    input_shape : tuple of (int, int, int), default=(150, 150, 1)
        ``(height, width, channels)`` of the input images.
    n_classes : int, default=2
        Number of softmax outputs.
    filters : int, default=64
        Filters of every convolution.
    kernel_size : int, default=3
        Side of every square convolution kernel.
    conv_blocks : int, default=4
        Number of convolutions.
    dense_units : int, default=64
        Units of the hidden dense layer.
    batch_norm : bool, default=False
        Batch normalisation after every convolution (before its ReLU), in
        TensorFlow's fused kernel (``FusedBatchNormalization``: Keras'
        ``BatchNormalization``, about 3x faster on a CPU).
    batch_norm_momentum : float, default=0.9
        How much of its moving statistics each batch norm keeps at each
        training step; the network predicts (and scores its validation part
        between epochs) with them. Keras' default, 0.99, forgets their
        initial variance of 1 too slowly for this network, whose first
        convolution's outputs vary about a thousandth as much: for several
        hundred steps (about 690 to come within twice their variance) the
        network predicts with statistics far from its inputs', often one
        class for every X-ray, and early stopping and learning-rate
        schedules react to that instead of to learning. 0.9 forgets it in
        about 70 steps. The shipped networks were trained with 0.99.
    dropout : float, default=0.0
        Dropout rate before each dense layer.
    rotation : float, default=0.0
        Random rotation in training, as a fraction of a full turn
        (0.03 is about +/-11 degrees).
    shift : float, default=0.0
        Random translation in training, as a fraction of height and width.
    zoom : float, default=0.0
        Random zoom in and out in training, as a fraction.
    stretch : float, default=0.0
        Random zoom in training of the height and of the width, each on its
        own, as a fraction: the framing and the aspect ratio change. Resizing
        to a square stretches each X-ray by its own aspect ratio, and in the
        public dataset that ratio differs by class (about 1.2 for normal and
        1.5 for pneumonia X-rays), so the framing is a shortcut; 0.25 spans
        that difference.
    contrast : float, default=0.0
        Random contrast change in training, as a fraction.
    brightness : float, default=0.0
        Random brightness shift in training, as a fraction of the [0, 1]
        value range (the result is clipped to it). With ``contrast``, it
        makes the exposure of an X-ray a less reliable cue.
    flip : bool, default=False
        Mirror half the X-rays left to right in training. A chest's left and
        right are not interchangeable (the heart sits on the left), but
        exports are mirrored often enough that the answer should not hinge
        on the side.
    noise : float, default=0.0
        Standard deviation of Gaussian noise added in training (detector
        noise, compression), on the [0, 1] intensities.
    rotation_fill_mode : {"nearest", "constant", "reflect", "wrap"}, \
default="nearest"
        What ``rotation`` puts in the corners it brings in from outside the
        image (Keras' ``fill_mode``): ``"nearest"`` repeats the edge;
        ``"constant"`` fills black, as an X-ray rotated by a site's software
        has it. ``stretch``, ``shift`` and ``zoom`` always repeat the edge,
        which imitates another framing; a black band would tell the network
        that the X-ray was reframed (at 64 px, black bands made the other
        class's framing move the answers more).
    head : {"flatten", "average"}, default="flatten"
        How the last feature maps reach the dense layer. ``"flatten"`` (the
        paper): every position has its own weights (921,664 of the paper's
        parameters). ``"average"``: a global average over positions, so the
        dense layer sees what the maps hold, not where; far fewer
        parameters, and less tied to the framing of the X-ray.
    dtype_policy : str or None, default=None
        Keras dtype policy of the hidden layers, e.g. ``"mixed_bfloat16"``:
        much faster training on CPUs with bfloat16 instructions (AVX-512
        BF16, AMX) and recent GPUs. The softmax output stays float32. ``None``
        uses Keras' global policy (float32 unless changed).

    Returns
    -------
    keras.Model

    Examples
    --------
    >>> from sklearn_pneumo import build_cnn
    >>> build_cnn().count_params()
    1033218
    >>> build_cnn(input_shape=(28, 28, 1)).output_shape
    (None, 2)
    >>> build_cnn(head="average").count_params()
    115714
    """
    if meta is not None:
        input_shape = (*meta["image_size_"], 1)
        n_classes = meta["n_classes_"]
    height, width = input_shape[:2]
    seed = _seed_draws()
    layers = [keras.Input(shape=input_shape)]
    layers += _augmentation(
        rotation,
        shift,
        zoom,
        stretch,
        contrast,
        brightness,
        flip,
        noise,
        rotation_fill_mode,
        seed,
    )
    for block in range(conv_blocks):
        padding = _conv_padding(height, width, kernel_size)
        layers += _convolution(
            filters,
            kernel_size,
            padding,
            batch_norm,
            batch_norm_momentum,
            dtype_policy,
            seed,
        )
        if padding == "valid":
            height, width = height - kernel_size + 1, width - kernel_size + 1
        if block < conv_blocks - 1 and min(height, width) >= 2:
            layers.append(keras.layers.MaxPooling2D(2))
            height, width = height // 2, width // 2
    if head == "average":
        layers.append(keras.layers.GlobalAveragePooling2D(dtype=dtype_policy))
    elif head == "flatten":
        layers.append(keras.layers.Flatten())
    else:
        raise ValueError(f"head must be 'flatten' or 'average', got {head!r}.")
    for units, activation, dtype in (
        (dense_units, "relu", dtype_policy),
        (n_classes, "softmax", "float32"),
    ):
        layers += [keras.layers.Dropout(dropout, seed=seed())] if dropout else []
        initializer = keras.initializers.GlorotUniform(seed())
        layers.append(
            keras.layers.Dense(
                units, activation, kernel_initializer=initializer, dtype=dtype
            )
        )
    return keras.Sequential(layers, name="pneumo_cnn")


def with_dtype_policy(model, policy, float32=()):
    """A copy of ``model`` computing under another Keras dtype policy.

    Every layer but the output one and those named in ``float32`` takes
    ``policy``; the output layer keeps its own (float32 softmax, as Keras
    advises for mixed precision), those named compute in float32. The
    weights are copied; the copy is not compiled.

    Parameters
    ----------
    model : keras.Model
    policy : str or keras.DTypePolicy
        E.g. ``"mixed_bfloat16"`` or ``"float32"``.
    float32 : collection of str, default=()
        Names of layers kept in float32.

    Returns
    -------
    keras.Model

    Examples
    --------
    >>> from sklearn_pneumo._network import build_cnn, with_dtype_policy
    >>> fast = with_dtype_policy(build_cnn(input_shape=(28, 28, 1)), "mixed_bfloat16")
    >>> fast.layers[0].compute_dtype, fast.layers[-1].compute_dtype
    ('bfloat16', 'float32')
    """
    output = model.layers[-1]

    def clone(layer):
        config = layer.get_config()
        if layer is not output and "dtype" in config:
            config["dtype"] = "float32" if layer.name in float32 else policy
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy


#: The Keras layers that change images only while training.
AUGMENTATION_LAYERS = (
    "RandomFlip",
    "RandomZoom",
    "RandomRotation",
    "RandomTranslation",
    "RandomContrast",
    "RandomBrightness",
    "GaussianNoise",
)


def inference_network(model):
    """A float32 copy of ``model`` for export, its augmentation layers removed.

    Augmentation layers act only while training, so predictions are those of
    ``model`` computed in float32 (a mixed-precision network moves by its
    rounding, about 1e-2 at most); each is replaced by an identity, which
    exporters such as ONNX's handle (random ops and bfloat16 they do not).

    Examples
    --------
    >>> from sklearn_pneumo._network import build_cnn, inference_network
    >>> network = build_cnn(input_shape=(28, 28, 1), rotation=0.1, flip=True)
    >>> [layer.__class__.__name__ for layer in inference_network(network).layers][:3]
    ['Identity', 'Identity', 'Conv2D']
    """

    def clone(layer):
        if layer.__class__.__name__ in AUGMENTATION_LAYERS:
            return keras.layers.Identity(name=layer.name)
        config = layer.get_config()
        if "dtype" in config:
            config["dtype"] = "float32"
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy
