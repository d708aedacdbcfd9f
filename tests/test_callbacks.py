"""Keras callbacks through the classifier: logging, early stopping, search."""

import pickle

import keras
import numpy as np
import pytest
from conftest import TINY_NETWORK
from sklearn.model_selection import GridSearchCV

from sklearn_pneumo import load_model, make_pneumo_pipeline, save_model

FAST = {**TINY_NETWORK, "batch_size": 8, "random_state": 0}


@pytest.fixture(scope="module")
def logged(xray_paths, tmp_path_factory):
    """A pipeline fitted on real X-rays with the paper's TensorBoard and more."""
    paths, y = xray_paths
    logs = tmp_path_factory.mktemp("logs")
    callbacks = [
        keras.callbacks.TensorBoard(log_dir=str(logs / "tensorboard")),
        keras.callbacks.CSVLogger(str(logs / "epochs.csv")),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", patience=1),
    ]
    pipe = make_pneumo_pipeline(
        (24, 24), epochs=3, validation_split=0.25, callbacks=callbacks, **FAST
    )
    return pipe.fit(paths, y), logs


def test_tensorboard_and_csv_logs_are_written(logged):
    _, logs = logged
    events = list((logs / "tensorboard").rglob("events.out.tfevents.*"))
    assert {e.parent.name for e in events} == {"train", "validation"}
    rows = (logs / "epochs.csv").read_text().splitlines()
    assert rows[0].split(",")[:2] == ["epoch", "accuracy"]
    assert len(rows) == 1 + 3


def test_pipeline_with_tensorboard_pickles_and_fits_again(logged, xray_paths):
    pipe, logs = logged
    paths, y = xray_paths
    restored = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(
        restored.predict_proba(paths), pipe.predict_proba(paths)
    )
    tensorboard = restored.named_steps["cnn"].callbacks[0]
    assert isinstance(tensorboard, keras.callbacks.TensorBoard)
    assert tensorboard.log_dir == str(logs / "tensorboard")
    before = len(list((logs / "tensorboard").rglob("events.out.tfevents.*")))
    restored.fit(paths, y)
    assert len(list((logs / "tensorboard").rglob("events.out.tfevents.*"))) > before


def test_pipeline_with_tensorboard_saves(logged, xray_paths, tmp_path):
    pipe, _ = logged
    paths, _ = xray_paths
    with pytest.warns(UserWarning, match="callbacks"):
        save_model(pipe, tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    np.testing.assert_array_equal(
        loaded.predict_proba(paths), pipe.predict_proba(paths)
    )


def test_early_stopping_restores_the_best_epoch(xray_paths):
    paths, y = xray_paths
    stop = keras.callbacks.EarlyStopping(
        monitor="loss", mode="max", patience=1, restore_best_weights=True
    )
    pipe = make_pneumo_pipeline((24, 24), epochs=20, callbacks=[stop], **FAST)
    history = pipe.fit(paths, y).named_steps["cnn"].history_
    # Monitoring the loss upside down stops as soon as it falls twice.
    assert len(history["loss"]) < 20


def test_callbacks_are_grid_searchable(xray_paths):
    paths, y = xray_paths
    stop = keras.callbacks.EarlyStopping(monitor="loss", mode="max", patience=0)
    pipe = make_pneumo_pipeline((24, 24), epochs=6, **FAST)
    search = GridSearchCV(
        pipe, {"cnn__callbacks": [None, [stop]]}, cv=2, scoring="roc_auc"
    ).fit(paths, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    # Each candidate got its own copy: the grid's callback was never fitted.
    assert stop.model is None
    best = search.best_estimator_.named_steps["cnn"]
    epochs_run = len(best.history_["loss"])
    assert epochs_run == 6 if best.callbacks is None else epochs_run < 6
