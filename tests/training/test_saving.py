"""Model files: round trip, exact resume, corruption detection, atomic writes."""

import json
import os
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest
from tests.conftest import REPO_ROOT

import nnscratch as nn
from nnscratch.data.toy import five_clusters

X, Y = five_clusters(400, seed=0)


def new_model(seed=0):
    layers = [nn.Dense(32, "relu"), nn.Dropout(0.25), nn.Dense(16, "tanh"), nn.Dense(5)]
    return nn.Model(nn.Sequential(layers, 2, seed=seed), optimizer=nn.Adam(0.01), l2=0.1)


def test_round_trip_keeps_predictions_optimizer_and_history(tmp_path):
    model = new_model()
    model.fit(X, Y, epochs=2, batch_size=32, seed=1, verbose=0, validation_split=0.1)
    path = model.save(tmp_path / "model.npz")
    loaded = nn.Model.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.epoch == 2 and loaded.history["val_loss"] == model.history["val_loss"]
    assert loaded.optimizer.iterations == model.optimizer.iterations
    assert isinstance(loaded.optimizer, nn.Adam) and loaded.optimizer.learning_rate == 0.01
    assert loaded.regularizers[0].lam == 0.1
    meta = json.loads(np.load(path)["__metadata__"].tobytes())
    assert meta["library_version"] == nn.__version__ and meta["format_version"] == 1


def test_resumed_training_is_bitwise_identical_to_uninterrupted(tmp_path):
    straight = new_model()
    straight.fit(X, Y, epochs=6, batch_size=16, seed=7, verbose=0)

    first = new_model()
    first.fit(X, Y, epochs=3, batch_size=16, seed=7, verbose=0)
    first.save(tmp_path / "checkpoint.npz")
    del first
    resumed = nn.Model.load(tmp_path / "checkpoint.npz")
    resumed.fit(X, Y, epochs=3, batch_size=16, verbose=0)

    np.testing.assert_array_equal(
        resumed.network.flat_parameter.value, straight.network.flat_parameter.value
    )
    assert resumed.history["loss"] == straight.history["loss"]
    assert resumed.history["accuracy"] == straight.history["accuracy"]
    assert resumed.history.epochs == [1, 2, 3, 4, 5, 6]


def test_checkpoint_callback_resumes_exactly(tmp_path):
    straight = new_model()
    straight.fit(X, Y, epochs=4, batch_size=32, seed=3, verbose=0)
    crashed = new_model()
    checkpoint = nn.ModelCheckpoint(tmp_path / "ckpt-{epoch}.npz")
    crashed.fit(X, Y, epochs=2, batch_size=32, seed=3, verbose=0, callbacks=[checkpoint])
    assert [os.path.basename(p) for p in checkpoint.saved] == ["ckpt-1.npz", "ckpt-2.npz"]
    resumed = nn.Model.load(tmp_path / "ckpt-2.npz")
    resumed.fit(X, Y, epochs=2, batch_size=32, verbose=0)
    np.testing.assert_array_equal(
        resumed.network.flat_parameter.value, straight.network.flat_parameter.value
    )


def corrupt(path, offset_from_end):
    data = bytearray(path.read_bytes())
    data[-offset_from_end] ^= 0xFF
    path.write_bytes(bytes(data))


def test_corrupted_truncated_and_foreign_files_are_rejected(tmp_path):
    model = new_model()
    path = tmp_path / "m.npz"
    model.save(path)
    good = path.read_bytes()

    # flip a byte inside an array's data (stored uncompressed, so the zip itself stays readable)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("weights/0.W.npy")
    data = bytearray(good)
    data[info.header_offset + 200] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(nn.ModelFileError, match="corrupted|not a readable"):
        nn.Model.load(path)

    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(nn.ModelFileError, match="truncated or corrupted"):
        nn.Model.load(path)

    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, W1=np.zeros((2, 2)))
    with pytest.raises(nn.ModelFileError, match="not an nnscratch model file"):
        nn.Model.load(foreign)

    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(nn.ModelFileError, match="not an nnscratch model file: it is text"):
        nn.Model.load(text)

    with pytest.raises(nn.ModelFileError, match="not found"):
        nn.Model.load(tmp_path / "missing.npz")


def test_newer_format_version_is_refused(tmp_path):
    from nnscratch.io import archive

    path = tmp_path / "future.npz"
    new_model().save(path)
    meta, arrays = archive.read_archive(path)
    assert meta["format_version"] == archive.FORMAT_VERSION
    meta["format_version"] = 99
    record = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays, __metadata__=record)
    with pytest.raises(nn.ModelFileError, match="format version 99"):
        nn.Model.load(path)


def test_pickled_arrays_are_never_loaded(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, __metadata__=np.array([{"format": "nnscratch-model"}], dtype=object))
    with pytest.raises(nn.ModelFileError):
        nn.Model.load(path)


SAVER = """
import sys, numpy as np
sys.path.insert(0, {src!r})
import nnscratch as nn
path = sys.argv[1]
model = nn.Model(nn.mlp([784, 256, 10], seed=0))
big = model.network.flat_parameter.value
i = 0
print("ready", flush=True)
while True:
    i += 1
    big[:] = i  # every save writes a recognisably different model
    model.save(path)
"""


def test_killing_a_process_mid_save_never_leaves_a_broken_file(tmp_path):
    path = tmp_path / "model.npz"
    nn.Model(nn.mlp([784, 256, 10], seed=0)).save(path)
    script = tmp_path / "saver.py"
    script.write_text(SAVER.format(src=str(REPO_ROOT / "src")))
    rng = np.random.default_rng(0)
    values = set()
    for _ in range(12):
        proc = subprocess.Popen([sys.executable, str(script), str(path)], stdout=subprocess.PIPE)
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(float(rng.uniform(0.05, 0.4)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        loaded = nn.Model.load(path)  # must always load, whole and consistent
        flat = loaded.network.flat_parameter.value
        assert np.all(flat == flat[0])
        values.add(float(flat[0]))
    assert len(values) > 1  # the kills really did land between different saves
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(leftovers) <= 12  # a killed writer may leave its temp file, never a bad model


def test_load_and_save_errors_are_one_clear_line_without_temporary_paths(tmp_path):
    model = new_model()
    single = tmp_path / "weights.npz"  # a .npy renamed .npz
    with open(single, "wb") as handle:
        np.save(handle, np.zeros(3))
    with pytest.raises(nn.ModelFileError, match=r"single NumPy array \(\.npy\)"):
        nn.Model.load(single)

    notes = tmp_path / "notes.npz"
    notes.write_text("x1,x2,label\n0.5,0.25,1\n")
    with pytest.raises(nn.ModelFileError, match="it is text") as caught:
        nn.Model.load(notes)
    assert "pickle" not in str(caught.value)  # never suggests unsafe loading

    folder = tmp_path / "runs"
    folder.mkdir()
    with pytest.raises(nn.ModelFileError, match="it is a folder") as caught:
        model.save(folder)
    assert ".tmp" not in str(caught.value) and str(folder) in str(caught.value)
    assert list(folder.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == [
        "notes.npz",
        "runs",
        "weights.npz",
    ]

    blocker = tmp_path / "notes.npz" / "model.npz"  # its folder is a file
    with pytest.raises(nn.ModelFileError, match="cannot save the model") as caught:
        model.save(blocker)
    assert ".tmp" not in str(caught.value)

    for error in ("single", "notes"):
        path = single if error == "single" else notes
        with pytest.raises(nn.ModelFileError) as caught:
            nn.Model.load(path)
        assert "\n" not in str(caught.value) and "context manager" not in str(caught.value)


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_model_files_honour_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        path = new_model().save(tmp_path / "model.npz")
        new_model(seed=1).save(path)  # replacing a file gives it the same mode
    finally:
        os.umask(previous)
    assert os.stat(path).st_mode & 0o777 == mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]
