import shutil
from pathlib import Path

import numpy as np
import pytest

from sklearn_pneumo import ImageLoadError
from sklearn_pneumo.datasets import (
    find_unreadable_images,
    load_chest_xray_sample,
    load_image_folder,
    load_pneumoniamnist,
)


def test_real_folder_layout(xray_dir):
    paths, y = load_image_folder(xray_dir)
    assert len(paths) == 16 and y.tolist() == [0] * 8 + [1] * 8
    assert all(Path(p).parent.name in ("NORMAL", "PNEUMONIA") for p in paths)


@pytest.fixture
def folder(tmp_path, xray_paths):
    paths, _ = xray_paths
    for name, source in (("normal", paths[0]), ("NEUMONIA", paths[-1])):
        (tmp_path / name).mkdir()
        shutil.copy(source, tmp_path / name / "x.jpeg")
    (tmp_path / "normal" / ".hidden.jpeg").write_bytes(b"")
    (tmp_path / "normal" / "notes.txt").write_text("skip me")
    (tmp_path / ".cache").mkdir()
    return tmp_path


def test_hidden_and_non_image_files_are_skipped_spelling_any_case(folder):
    paths, y = load_image_folder(folder)
    assert [Path(p).parent.name for p in paths] == ["NEUMONIA", "normal"]
    assert y.tolist() == [1, 0]


def test_unknown_class_folder_is_named(folder):
    (folder / "COVID").mkdir()
    with pytest.raises(ValueError, match="COVID"):
        load_image_folder(folder)
    paths, y = load_image_folder(
        folder, class_names={"normal": 0, "neumonia": 1, "covid": 2}
    )
    assert sorted(y.tolist()) == [0, 1]


def test_empty_and_missing_folders(tmp_path):
    with pytest.raises(ValueError, match="No images"):
        load_image_folder(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_image_folder(tmp_path / "absent")


def test_validate_lists_every_unreadable_file(folder):
    (folder / "normal" / "broken.jpeg").write_text("text")
    (folder / "NEUMONIA" / "empty.png").write_bytes(b"")
    with pytest.raises(ImageLoadError) as raised:
        load_image_folder(folder, validate=True)
    assert len(raised.value.failures) == 2
    paths, _ = load_image_folder(folder)
    bad = {path for path, _ in find_unreadable_images(paths)}
    keep = np.array([p not in bad for p in paths])
    assert keep.sum() == 2


def test_bundled_pneumoniamnist():
    data = load_pneumoniamnist()
    assert data.images.shape == (4708, 28, 28) and data.images.dtype == np.uint8
    assert np.bincount(data.target).tolist() == [1214, 3494]
    images, y = load_pneumoniamnist("val", return_X_y=True)
    assert images.shape == (524, 28, 28) and np.bincount(y).tolist() == [135, 389]
    with pytest.raises(ValueError, match="split"):
        load_pneumoniamnist("test")


def test_bundled_sample_jpegs_decode():
    paths, y = load_chest_xray_sample()
    assert y.tolist() == [0] * 8 + [1] * 8
    assert find_unreadable_images(paths) == []


def test_preprocessing_imports_without_tensorflow():
    # Decoding and resizing need no TensorFlow: it loads on first use of the
    # network, which keeps light jobs at a fraction of the memory.
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from sklearn_pneumo import ImageLoader, GrayscaleResize, evaluate_binary\n"
        "from sklearn_pneumo.datasets import load_image_folder\n"
        "assert 'tensorflow' not in sys.modules\n"
        "import sklearn_pneumo\n"
        "assert sorted(sklearn_pneumo.__all__) == sorted(set(dir(sklearn_pneumo)) "
        "& set(sklearn_pneumo.__all__))\n"
        "from sklearn_pneumo import CNNClassifier, make_pneumo_pipeline\n"
        "assert 'tensorflow' in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_a_folder_with_images_of_one_class_is_warned_about(folder):
    for extra in (folder / "NEUMONIA").iterdir():
        extra.unlink()
    with pytest.warns(
        UserWarning, match="one class only .NORMAL; no images of PNEUMONIA"
    ):
        paths, y = load_image_folder(folder)
    assert set(y.tolist()) == {0}
