"""Reset is all or nothing, for every kind of session.

``control("reset")`` rebuilds the model; when the rebuild fails part way (here in its last
step, after a new model, new inputs and cleared curves were already in place), the session
keeps its configuration, data, model, curves and what the page shows exactly as they were,
the user gets a one-line error saying that nothing changed, and the next reset works.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from nnscratch.web.digits import DigitsSession
from nnscratch.web.playground import PlaygroundSession
from nnscratch.web.sessions import Session
from nnscratch.web.validation import ParamError

#: What a request itself changes: the session's last activity.
TOUCHED = {"last_seen"}

KINDS = {"playground": PlaygroundSession, "digits": DigitsSession}

FAILURES = [
    # (what the rebuild raises, the status and the words of the answer)
    (MemoryError(), 503, "reset failed: not enough memory on the server to build a new model"),
    (ParamError("hidden: too wide for this server", "hidden"), 422, "too wide for this server"),
    (RuntimeError("a bug"), 500, "reset failed by an internal error (see the server log)"),
]


def _snapshot(session: Any) -> dict[str, Any]:
    """Every attribute of the session (by identity), the curves' contents, and the model's
    weights, epoch and history (by value, bit for bit)."""
    net = session.model.network
    return {
        "attributes": dict(vars(session)),
        "curves": copy.deepcopy(vars(session.curves)),
        "weights": {k: v.tobytes() for k, v in net.get_weights().items()},
        "epoch": session.model.epoch,
        "history": copy.deepcopy(vars(session.model.history)),
    }


@pytest.mark.parametrize(("error", "status", "words"), FAILURES, ids=["memory", "param", "bug"])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_failed_reset_changes_nothing_and_says_so(
    client: Any,
    new_session: Any,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    error: BaseException,
    status: int,
    words: str,
) -> None:
    s = new_session(kind)
    s.step(2)
    session = client.app.state.manager.get(s.id)
    before_state = s.get()
    before = _snapshot(session)
    assert before["epoch"] == 2 and len(before["curves"]["epochs"]) == 3  # epochs 0, 1, 2

    def fail(self: Session) -> None:
        raise error

    # the rebuild's last step: the new model, its inputs and the cleared curves already in place
    monkeypatch.setattr(KINDS[kind], "_refresh_visuals", fail)
    response = s.control("reset")
    assert response.status_code == status, response.text
    message = response.json()["error"]
    assert words in message and "the session is unchanged" in message
    assert "\n" not in message

    _assert_unchanged(session, before)
    assert session.model is before["attributes"]["model"]
    assert s.get() == before_state

    # the next reset works: a new model at epoch 0, one point on the curves, and it trains
    monkeypatch.undo()
    state = s.control("reset").json()
    assert state["generation"] == before_state["generation"] + 1
    assert session.model is not before["attributes"]["model"] and session.model.epoch == 0
    assert session.curves.epochs == [0]
    assert s.step(1)["metrics"]["epoch"] == 1


# -- the digits page's other changes: a new network and an uploaded model -------------------------
def _assert_unchanged(session: Any, before: dict[str, Any]) -> None:
    after = _snapshot(session)
    changed = [
        key
        for key in set(before["attributes"]) | set(after["attributes"])
        if key not in TOUCHED
        and after["attributes"].get(key, "absent") is not before["attributes"].get(key, "absent")
    ]
    assert changed == []
    assert after["curves"] == before["curves"]
    assert after["weights"] == before["weights"]
    assert (after["epoch"], after["history"]) == (before["epoch"], before["history"])


def test_a_digits_rebuild_that_fails_part_way_changes_nothing(
    client: Any, new_session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = new_session("digits")
    s.step(1)
    session = client.app.state.manager.get(s.id)
    before_state, before = s.get(), _snapshot(session)

    def fail(self: Session) -> None:
        raise ParamError("hidden: too wide for this server", "hidden")

    monkeypatch.setattr(DigitsSession, "_refresh_visuals", fail)
    response = s.config(hidden=[32])  # a new network: the rebuild fails in its last step
    assert response.status_code == 422, response.text
    assert "too wide for this server" in response.json()["error"]
    _assert_unchanged(session, before)
    assert s.get() == before_state

    monkeypatch.undo()
    assert s.config(hidden=[32]).status_code == 200
    assert session.model.network.layers[0].units == 32


def test_a_digits_model_upload_that_fails_part_way_changes_nothing(
    client: Any, new_session: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    import nnscratch as nn

    s = new_session("digits")
    s.step(1)
    session = client.app.state.manager.get(s.id)
    before_state, before = s.get(), _snapshot(session)
    upload = nn.Model(nn.mlp([784, 24, 10], "relu", seed=5), loss="softmax_cross_entropy")
    upload.save(tmp_path / "m.npz")
    data = (tmp_path / "m.npz").read_bytes()

    def fail(self: Session) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(DigitsSession, "_refresh_visuals", fail)
    response = client.post(f"{s.base}/model?name=m.npz", content=data)
    assert response.status_code == 500, response.text
    _assert_unchanged(session, before)
    assert s.get() == before_state

    monkeypatch.undo()
    response = client.post(f"{s.base}/model?name=m.npz", content=data)
    assert response.status_code == 200, response.text
    assert response.json()["config"]["hidden"] == [24]
