"""Fixtures for the system tests: each test boots the kernel in QEMU."""

import resource
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


@pytest.fixture(scope="session", autouse=True)
def _enough_descriptors():
    """A socket for each of the guest's TCP PCBs and more (test_exhaustion,
    test_small_memory: up to 1056 at once) under a default limit of 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 4096 if hard == resource.RLIM_INFINITY else min(hard, 4096)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
