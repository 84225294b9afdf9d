"""Shared fixtures and the one device marker.

``needs_cuda`` tests are skipped without a usable GPU, and fail instead of skipping when
PYVIDFAST_REQUIRE_CUDA=1, so a GPU run can never pass by skipping.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REAL_DIR = Path(
    os.environ.get("PYVIDFAST_TESTDATA")
    or Path(__file__).resolve().parents[2] / "shared" / "testdata" / "real"
)


def _cuda_usable() -> bool:
    from pyvidfast import has_cuda

    return has_cuda()


def pytest_runtest_setup(item):
    if "needs_cuda" not in item.keywords or _cuda_usable():
        return
    if os.environ.get("PYVIDFAST_REQUIRE_CUDA") == "1":
        pytest.fail("PYVIDFAST_REQUIRE_CUDA=1 but CUDA is not usable here", pytrace=False)
    pytest.skip("needs a CUDA GPU")


@pytest.fixture(scope="session")
def real_dir() -> Path:
    """../shared/testdata/real (read-only real clips); skip if the checkout has no shared/."""
    if not REAL_DIR.is_dir():
        pytest.skip(f"real test videos not found at {REAL_DIR}")
    return REAL_DIR


@pytest.fixture
def stalled_fifo(tmp_path):
    """A file whose reader never finishes until the test ends (tests/hang.py)."""
    from hang import StalledFifo

    fifo = StalledFifo(tmp_path / "stalled.mp4")
    yield fifo
    fifo.close()
