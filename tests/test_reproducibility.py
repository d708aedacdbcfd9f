"""Two fits with the same random_state in two fresh processes agree exactly."""

import os
import subprocess
import sys

import numpy as np

SCRIPT = """
import sys
import numpy as np
from sklearn_pneumo import make_pneumo_pipeline
from sklearn_pneumo.datasets import load_pneumoniamnist

images, y = load_pneumoniamnist("val", return_X_y=True)
pipe = make_pneumo_pipeline(
    (28, 28), input="images", random_state=7, epochs=2, batch_size=64,
    model__filters=8, model__dense_units=16,
)
np.save(sys.argv[1], pipe.fit(images, y).predict_proba(images))
"""


def test_same_seed_same_probabilities_in_fresh_processes(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    outputs = [tmp_path / f"proba{i}.npy" for i in range(2)]
    for output in outputs:
        subprocess.run(
            [sys.executable, "-c", SCRIPT, str(output)],
            check=True,
            env=env,
            timeout=300,
        )
    first, second = (np.load(output) for output in outputs)
    assert first.shape == (524, 2)
    np.testing.assert_array_equal(first, second)
