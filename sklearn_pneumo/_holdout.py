"""A shuffled, stratified hold-out that keeps each patient on one side."""

import numpy as np
from sklearn.model_selection import (
    GroupShuffleSplit,
    StratifiedGroupKFold,
    train_test_split,
)


def holdout_indices(y, fraction, random_state=None, groups=None):
    """Split sample indices into training and a stratified, shuffled hold-out.

    Used for ``validation_split``: Keras alone holds out the *last* rows,
    which are one class when the data are sorted by class (as
    :func:`~sklearn_pneumo.datasets.load_image_folder` returns them). With
    ``groups`` (e.g. the patient of each X-ray), each group falls wholly on
    one side: the hold-out is one fold of a shuffled ``StratifiedGroupKFold``
    with ``round(1 / fraction)`` folds, so its size is close to ``fraction``;
    where a class has fewer X-rays than folds, a shuffled split of whole
    groups, unstratified.

    Examples
    --------
    >>> import numpy as np
    >>> train, held_out = holdout_indices(np.repeat([0, 1], 10), 0.2, 0)
    >>> len(train), sorted(np.repeat([0, 1], 10)[held_out].tolist())
    (16, [0, 0, 1, 1])
    >>> patients = np.arange(20) // 2
    >>> train, held_out = holdout_indices(np.repeat([0, 1], 10), 0.2, 0, patients)
    >>> set(patients[train]) & set(patients[held_out])
    set()
    """
    y = np.asarray(y).reshape(len(y), -1)[:, 0]
    indices = np.arange(len(y))
    if groups is not None:
        n_splits = max(2, round(1 / fraction))
        folds = StratifiedGroupKFold(n_splits, shuffle=True, random_state=random_state)
        if np.unique(y, return_counts=True)[1].min() < n_splits:
            folds = GroupShuffleSplit(1, test_size=fraction, random_state=random_state)
        return next(folds.split(indices, y, groups))
    try:
        return train_test_split(
            indices, test_size=fraction, stratify=y, random_state=random_state
        )
    except ValueError:  # a class too small to stratify: plain shuffled split
        return train_test_split(indices, test_size=fraction, random_state=random_state)
