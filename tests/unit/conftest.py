"""The unit tier: no corpus, no trained bundle, no process started, no torch.

``make test-unit`` runs this folder alone; a run of it alone fails if anything imported torch, so that
the tier stays cheap as the code around it grows.
"""

from __future__ import annotations

import sys

import pytest

UNIT_DIR = __file__.rsplit("/", 1)[0]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if str(item.path).startswith(UNIT_DIR):
            item.add_marker(pytest.mark.unit)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    items = getattr(session, "items", [])
    if items and all(str(i.path).startswith(UNIT_DIR) for i in items) and "torch" in sys.modules:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print("\nthe unit tier imported torch: a unit test must not reach the model code that needs it")
