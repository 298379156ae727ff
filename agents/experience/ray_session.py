"""Starting or joining Ray for tfpg: a local cluster on loopback only, and joins that fail fast and clearly.

Three facts about Ray 2.60 shape this module (see shared COMPAT notes and the README's "Scaling out on Ray"):

* ``ray.init(_node_ip_address="127.0.0.1")`` does not keep Ray on loopback: the address is rewritten to the
  machine's IP and every Ray process listens on all interfaces. Only ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``
  keeps node IPs at 127.0.0.1 and listeners on loopback; every process that starts or joins such a cluster
  needs it (a joining process without it rewrites ``127.0.0.1:PORT`` to the external IP and fails).
* Token auth is on by default and writes a token into ``~/.ray``. A local cluster that nothing outside this
  machine can reach runs with ``RAY_AUTH_MODE=disabled``, so nothing lands in the home folder.
* Joining an address where no Ray listens retries for ~14 minutes. tfpg first checks with a plain TCP connect
  that something listens at all, so a wrong address fails in seconds; and when a process's first use of Ray is
  a join, it bounds the GCS connect timeouts, which Ray reads from the environment at ``import ray``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import sys
from collections.abc import Iterator

RAY_INSTALL_HINT = "Ray is not installed; install the extra with: pip install -e '.[ray]'"

LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
"""Keeps every Ray process of a cluster on 127.0.0.1 (node IPs and listening sockets)."""

LOCAL_ENV = {**LOOPBACK_ENV, "RAY_AUTH_MODE": "disabled"}
"""A local cluster tfpg starts itself: loopback only, so no token (which Ray would write into ~/.ray)."""

IMPORT_TIME_ENV = {"RAY_py_gcs_connect_timeout_s": "5", "RAY_gcs_rpc_server_connect_timeout_s": "5"}
"""Ray's C++ config reads these once, at ``import ray``: each GCS connect attempt gives up after 5 s (the
defaults add up to ~41 s per attempt). Set before a join only, never for a local start (a fresh local GCS on a
loaded machine can be slower than that). Defaults only: a value already in the environment wins."""

JOIN_ENV = {"RAY_gcs_server_port_wait_time_s": "1"}
"""Read by ``ray.init`` itself: connect attempts to a cluster's GCS (default ~20), one here since the TCP check
has already seen the port open. Set only while joining; a value in the environment wins."""

PROBE_TIMEOUT_S = 5.0
"""How long the TCP check of a cluster address waits for a connection."""


class RayAddressError(ValueError):
    """No Ray cluster could be reached at the given address; the message says what to check."""


def import_ray():
    """Import ray, or explain how to install it."""
    try:
        import ray
    except ImportError as err:
        raise ImportError(RAY_INSTALL_HINT) from err
    return ray


def init_ray(address: str | None = None, num_cpus: int | None = None):
    """Join the cluster at ``address`` (or ``RAY_ADDRESS``), else start a local one; returns the ray module.

    A local cluster listens on 127.0.0.1 only, runs without dashboard and without token auth, keeps its session
    files in the system temp dir and uses the CPUs this process may run on (or ``num_cpus``): nothing goes to
    the home folder. Joining first checks that something listens at ``address``.

    Raises:
        RayAddressError: nothing answers at ``address``, or Ray could not connect to it in bounded time.
        ImportError: Ray is not installed.
    """
    address = address or os.environ.get("RAY_ADDRESS")
    if address and "ray" not in sys.modules:
        # Bounded GCS connects when joining (they are read once, at import). Not for a local start: on a loaded
        # machine a fresh GCS can take longer than these to answer.
        for key, value in IMPORT_TIME_ENV.items():
            os.environ.setdefault(key, value)
    ray = import_ray()
    if ray.is_initialized():
        return ray
    if address:
        _join(ray, address)
    else:
        _use_env(ray, LOCAL_ENV, force=True)  # whatever the shell says: the promise is loopback only
        cpus = num_cpus or len(os.sched_getaffinity(0))  # the CPUs this process was given
        ray.init(num_cpus=cpus, include_dashboard=False, _node_ip_address="127.0.0.1")
    return ray


@contextlib.contextmanager
def ray_connection(
    address: str | None = None, enabled: bool = True, cpus_needed: float = 0
) -> Iterator[None]:
    """Within the block Ray is up (``init_ray(address)``); if this call started or joined it, it shuts it down
    on the way out, whatever happens. ``enabled=False`` does nothing (and needs no Ray installed).

    Raises:
        RayAddressError: see ``init_ray``; or the cluster has fewer than ``cpus_needed`` CPUs in all, so
            actors that each reserve some would wait for CPUs that never come.
    """
    if not enabled or ("ray" in sys.modules and sys.modules["ray"].is_initialized()):
        yield
        return
    ray = init_ray(address)
    try:
        check_cpus(ray, cpus_needed)
        yield
    finally:
        ray.shutdown()


def check_cpus(ray, cpus_needed: float) -> None:
    """``RayAddressError`` when the cluster offers fewer than ``cpus_needed`` CPUs (nodes now connected)."""
    total = ray.cluster_resources().get("CPU", 0.0)
    if cpus_needed > total + 1e-9:
        raise RayAddressError(
            f"The Ray cluster has {total:g} CPU(s) but the rollout workers reserve {cpus_needed:g} "
            f"(num_workers x worker_cpus), so some would never start. Use fewer --num-workers, add nodes, or, for "
            f"envs that mostly wait rather than compute, a smaller --set worker_cpus=... (num_workers x worker_cpus "
            f"<= {total:g})."
        )


def is_loopback_address(address: str) -> bool:
    """True for ``127.x.y.z:PORT``, ``localhost:PORT`` and ``[::1]:PORT`` (with or without a scheme)."""
    host = _split_address(address)[0]
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _split_address(address: str) -> tuple[str | None, int | None]:
    """``"ray://h:p"``/``"h:p"``/``"[v6]:p"`` -> (host, port); (None, None) for ``auto`` and other forms."""
    rest = address.split("://", 1)[-1]
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit():
        return None, None
    return host.strip("[]"), int(port)


def check_ray_address(address: str | None) -> None:
    """Without importing Ray: fail with ``RayAddressError`` when nothing listens at ``address`` (or
    ``RAY_ADDRESS``). No address (a local Ray) and forms without a port (``auto``) pass."""
    address = address or os.environ.get("RAY_ADDRESS")
    host, port = _split_address(address) if address else (None, None)
    if host is not None:
        _probe(address, host, port)


def _join(ray, address: str) -> None:
    check_ray_address(address)
    if is_loopback_address(address):
        # The cluster runs on loopback only if it was started that way; then this process must keep 127.0.0.1
        # too. A value set in the environment (e.g. =1 for a cluster started with Ray's defaults) wins.
        _use_env(ray, LOOPBACK_ENV, force=False)
    previous = {key: os.environ.get(key) for key in JOIN_ENV}
    os.environ.update({key: os.environ.get(key) or value for key, value in JOIN_ENV.items()})
    try:
        ray.init(address=address, include_dashboard=False)
    except ray.exceptions.AuthenticationError as err:
        raise RayAddressError(
            f"The Ray cluster at {address} uses token authentication and this process has no token: copy the "
            f"token file from the head node (`ray get-auth-token`) and set RAY_AUTH_TOKEN_PATH=FILE (or "
            f"RAY_AUTH_TOKEN) before running tfpg (README: Scaling out on Ray). Ray said: {err}"
        ) from None
    except (ConnectionError, ray.exceptions.RayError) as err:
        raise RayAddressError(
            f"Could not join the Ray cluster at {address}: {err}. Something listens there, but it did not "
            f"answer as a Ray head node (GCS). Check the address printed by `ray start --head`, that this "
            f"machine's Ray version matches the cluster's, and the auth settings (README: Scaling out on Ray)."
        ) from err
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _probe(address: str, host: str, port: int) -> None:
    """Fail in seconds, with a clear message, when nothing accepts TCP connections at ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S):
            pass
    except OSError as err:
        raise RayAddressError(
            f"No Ray cluster at {address}: connecting to {host}:{port} failed ({err.strerror or err}). "
            f"Start one with `ray start --head --port {port}` (README: Scaling out on Ray), pass the address "
            f"it printed with --ray-address (or RAY_ADDRESS), or leave both unset to use a local Ray."
        ) from None


def _use_env(ray, values: dict[str, str], force: bool) -> None:
    """Put ``values`` into this process's environment (inherited by the Ray processes it starts) and into
    Ray's already-imported view of it (``ray_constants`` read ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER`` at import)."""
    for key, value in values.items():
        if force:
            os.environ[key] = value
        else:
            os.environ.setdefault(key, value)
    from ray._private import ray_constants

    with contextlib.suppress(AttributeError):  # the name may move in a later Ray; the env var still applies
        flag = os.environ[ray_constants.ENABLE_RAY_CLUSTERS_ENV_VAR].lower() in ("1", "true")
        ray_constants.ENABLE_RAY_CLUSTER = flag
