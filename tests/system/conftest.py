"""Fixtures for the system tests: each test boots the kernel in QEMU."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from qemu import KERNEL, Guest  # noqa: E402


@pytest.fixture
def guest(tmp_path):
    """A factory that boots the kernel: guest(machine='q35', cmdline=None,
    extra_args=(), **more Guest options).  Every guest it starts is killed
    when the test ends, whatever the outcome."""
    if not KERNEL.is_file():
        pytest.skip(f"{KERNEL} is not built; run 'make' (make test builds it first)")
    started = []

    def start(machine="q35", cmdline=None, extra_args=(), **options):
        g = Guest(tmp_path / f"guest{len(started)}", machine=machine,
                  cmdline=cmdline, extra_args=extra_args, **options)
        started.append(g)
        return g.start()

    yield start
    for g in started:
        g.kill()
