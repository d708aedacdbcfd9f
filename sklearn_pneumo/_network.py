"""The paper's convolutional network, as a scikeras model-building function."""

import keras


def _conv_padding(height, width, kernel_size):
    """Keep the paper's 'valid' padding while the feature map is large enough."""
    return "valid" if min(height, width) >= kernel_size else "same"


def build_cnn(
    meta=None,
    *,
    input_shape=(150, 150, 1),
    n_classes=2,
    filters=64,
    kernel_size=3,
    conv_blocks=4,
    dense_units=64,
):
    """Build the paper's CNN (uncompiled).

    ``conv_blocks`` convolutions with ReLU, each but the last followed by 2x2
    max pooling, then ``Flatten``, a ReLU dense layer and a softmax output.
    With the defaults on 150x150x1 input this is exactly the paper's network:
    1,033,218 parameters.

    On small inputs the network still builds: a convolution switches from
    'valid' to 'same' padding once the feature map is narrower than
    ``kernel_size``, and pooling is skipped once it is narrower than 2.

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
    """
    if meta is not None:
        input_shape = (*meta["image_size_"], 1)
        n_classes = meta["n_classes_"]
    height, width = input_shape[:2]
    layers = [keras.Input(shape=input_shape)]
    for block in range(conv_blocks):
        padding = _conv_padding(height, width, kernel_size)
        layers.append(
            keras.layers.Conv2D(
                filters, kernel_size, activation="relu", padding=padding
            )
        )
        if padding == "valid":
            height, width = height - kernel_size + 1, width - kernel_size + 1
        if block < conv_blocks - 1 and min(height, width) >= 2:
            layers.append(keras.layers.MaxPooling2D(2))
            height, width = height // 2, width // 2
    layers += [
        keras.layers.Flatten(),
        keras.layers.Dense(dense_units, activation="relu"),
        keras.layers.Dense(n_classes, activation="softmax"),
    ]
    return keras.Sequential(layers, name="pneumo_cnn")
