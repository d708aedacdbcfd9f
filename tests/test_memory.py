"""Fitting network after network in one process keeps memory flat."""

import numpy as np

from sklearn_pneumo import CNNClassifier
from sklearn_pneumo._upstream import live_traced_graphs as _live_graphs


def test_fits_leave_no_traced_graph_behind():
    # Each leaked fit kept its whole traced training graph alive (TensorFlow's
    # gradient registry held it); a grid search grew by the network's graph
    # per candidate. Counting live graphs sees that without timing noise.
    rng = np.random.default_rng(0)
    X, y = rng.random((24, 8 * 8), dtype=np.float32), np.tile([0, 1], 12)

    def fit_and_drop():
        clf = CNNClassifier(epochs=1, model__filters=2, random_state=0)
        clf.fit(X, y).predict(X)

    fit_and_drop()
    after_one = _live_graphs()
    for _ in range(3):
        fit_and_drop()
    assert _live_graphs() <= after_one
