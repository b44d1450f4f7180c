"""Model files written by nnscratch 0.1.0 keep working: they load, predict bitwise as 0.1.0
did, and resume training exactly as 0.1.0 continued them.

The fixtures were written by the 0.1.0 code (commit 9c47011): a 2-16-8-3 tanh network with
batch norm, dropout, L2 and Adam state after 3 epochs on ``blobs(200, centers=3, seed=0)``,
the predictions of 0.1.0 on 20 probe rows, and the weights 0.1.0 reached after 2 more epochs.
"""

from pathlib import Path

import numpy as np

import nnscratch as nn
from nnscratch.data import blobs

FIXTURES = Path(__file__).parent / "fixtures"


def test_a_0_1_0_dense_model_file_predicts_as_it_did():
    model = nn.Model.load(FIXTURES / "dense-0.1.0.npz")
    expected = np.load(FIXTURES / "dense-0.1.0-expected.npz")
    assert model.epoch == 3 and model.optimizer.iterations == 3 * 7
    assert np.array_equal(model.predict_proba(expected["x"]), expected["proba"])
    assert np.array_equal(model.predict(expected["x"]), expected["labels"])


def test_a_0_1_0_dense_model_file_resumes_as_0_1_0_continued_it():
    model = nn.Model.load(FIXTURES / "dense-0.1.0.npz")
    x, y = blobs(200, centers=3, seed=0)
    model.fit(x.astype(np.float32), y, epochs=2, batch_size=32, verbose=0)
    reached = np.load(FIXTURES / "dense-0.1.0-resumed.npz")
    for name, value in model.network.get_weights().items():
        reference = reached[name.replace(".", "_")]
        if name.endswith("running_var"):
            # the one convention that changed: batch norm's running variance is now the
            # unbiased batch variance, as PyTorch's (see CHANGELOG); training never reads it
            assert value.shape == reference.shape and (value > 0).all()
        else:
            assert np.array_equal(value, reference), name
