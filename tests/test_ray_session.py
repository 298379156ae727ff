"""Joining Ray: addresses are parsed and checked, and a wrong one fails in bounded time with a clear message."""

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from agents.experience.ray_session import RayAddressError, check_ray_address, is_loopback_address

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1:6379", True),
        ("127.0.0.2:6379", True),
        ("localhost:6379", True),
        ("[::1]:6379", True),
        ("ray://127.0.0.1:10001", True),
        ("10.0.0.5:6379", False),
        ("head.example.org:6379", False),
        ("auto", False),
        ("127.0.0.1", False),  # no port: not an address tfpg can check
    ],
)
def test_loopback_addresses(address, loopback):
    assert is_loopback_address(address) is loopback


def test_nothing_listening_fails_at_once_and_says_what_to_do():
    start = time.monotonic()
    with pytest.raises(
        RayAddressError, match=r"No Ray cluster at 127\.0\.0\.1:1: .*Connection refused"
    ) as err:
        check_ray_address("127.0.0.1:1")
    assert time.monotonic() - start < 2
    assert "ray start --head" in str(err.value) and "--ray-address" in str(err.value)
    check_ray_address(None)  # no address: a local Ray, nothing to check
    check_ray_address("auto")


def test_a_port_that_is_not_ray_fails_within_bounded_time(tmp_path):
    """Something accepts connections but never speaks Ray: Ray alone would retry ~14 min; tfpg gives up in ~15 s."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    port = server.getsockname()[1]
    accepted = []
    threading.Thread(target=lambda: accepted.extend(server.accept() for _ in range(100)), daemon=True).start()
    code = (
        "from agents.experience.ray_session import init_ray, RayAddressError\n"
        "try:\n"
        f"    init_ray('127.0.0.1:{port}')\n"
        "except RayAddressError as err:\n"
        "    print('REFUSED', err)\n"
    )  # a fresh process: the bounded timeouts apply when Ray is first imported for a join
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                            env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})  # fmt: skip
    elapsed = time.monotonic() - start
    server.close()
    assert "REFUSED Could not join the Ray cluster at 127.0.0.1" in result.stdout, result.stderr[-2000:]
    assert "did not answer as a Ray head node" in result.stdout
    assert elapsed < 35, (
        elapsed
    )  # ~15 s of timeouts + imports on a busy machine (Ray alone: ~41 s per attempt)
    assert not (tmp_path / ".ray").exists()
