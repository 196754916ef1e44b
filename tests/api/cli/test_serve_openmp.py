"""``switchover serve`` runs OpenMP's threads passive (they sleep between a query's parallel
regions instead of spinning on the cores the event loop and the other requests need)."""

from __future__ import annotations

import os

import pytest

from api.cli.serve import _passive_openmp


def test_serve_sets_the_passive_wait_policy_when_none_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    _passive_openmp()

    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"


def test_an_operator_set_wait_policy_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    _passive_openmp()

    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
