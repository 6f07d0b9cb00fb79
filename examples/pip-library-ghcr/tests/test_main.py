"""Tests of ``python -m demo_project``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from demo_project.__main__ import main

if TYPE_CHECKING:
    import pytest


def test_main_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    main()
    result = json.loads(capsys.readouterr().out)
    assert result["package"] == "demo_project"
    assert len(result["standardized"]) == 3
