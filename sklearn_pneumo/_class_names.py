"""How classes are named and shown: one place that knows the label mapping."""

#: The name of each label of the paper's two classes: 0 normal, 1 pneumonia.
TARGET_NAMES = ("NORMAL", "PNEUMONIA")


def class_display_names(classes, class_names=None):
    """How to show each of ``classes``: as given, as NORMAL/PNEUMONIA for 0/1, or as is.

    The labels 0 and 1 mean normal and pneumonia throughout this package
    (:func:`load_image_folder`, the bundled data sets), so they are shown by
    name; any other labels (names already, or a mapping of your own) are
    shown as they are.

    Examples
    --------
    >>> class_display_names([0, 1])
    ['NORMAL', 'PNEUMONIA']
    >>> class_display_names(["healthy", "sick"])
    ['healthy', 'sick']
    """
    if class_names is not None:
        if len(class_names) != len(classes):
            raise ValueError(
                f"class_names has {len(class_names)} names for "
                f"{len(classes)} classes {list(classes)}."
            )
        return [str(name) for name in class_names]
    if [str(c) for c in classes] == ["0", "1"]:
        return list(TARGET_NAMES)
    return [str(c) for c in classes]
