"""Fashion-MNIST as a user gets it: Debian's ``dataset-fashion-mnist`` package installs it in
/usr/share/datasets/fashion-mnist, where the loader looks without being told (``.ci/run``
installs the package; elsewhere the test skips, and under CI=true a skip is a failure)."""

from pathlib import Path

import numpy as np
import pytest

from nnscratch.data import load_fashion_mnist

SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")


def test_debian_fashion_mnist_is_found_and_verified(isolated):
    # isolated: no NNSCRATCH_DATA, an empty cache, no network: only the system folder is left
    if not (SYSTEM_DIR / "t10k-labels-idx1-ubyte.gz").exists():
        pytest.skip(
            f"Fashion-MNIST not installed in {SYSTEM_DIR} (apt-get install dataset-fashion-mnist)"
        )
    fashion = load_fashion_mnist(verify=True, progress=False)
    assert fashion.x_train.shape == (60_000, 784) and fashion.x_test.shape == (10_000, 784)
    assert fashion.x_train.dtype == np.uint8
    # Zalando's split is balanced: 6,000 training and 1,000 test images of each of 10 classes
    assert np.bincount(fashion.y_train).tolist() == [6000] * 10
    assert np.bincount(fashion.y_test).tolist() == [1000] * 10
    assert str(SYSTEM_DIR) in fashion.source
    assert fashion.class_names[0] == "T-shirt/top" and fashion.class_names[9] == "Ankle boot"
