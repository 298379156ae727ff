"""Run a multi-node Ray cluster on this machine, loopback only, until Ctrl-C: for trying `--ray-address` out.

    python scripts/ray_local_cluster.py --root /tmp/tfpg-ray --head-cpus 2 --node-cpus 1
    # it prints the address and the environment to use in another shell, e.g.:
    #   env HOME=/tmp/tfpg-ray/home RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 RAY_AUTH_MODE=disabled \\
    #       python scripts/train_agent.py --backend ray --num-workers 2 --ray-address 127.0.0.1:PORT

Each node is its own `ray start --block` process tree (own session, temp dir and CPU count). Ctrl-C or SIGTERM
stops exactly those processes (never other Ray processes on the machine, as `ray stop` would). To simulate a lost
machine, SIGKILL one node's session: `pkill -9 -s SID` with the SID printed for it.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from agents.experience.ray_cluster import ClusterError, LocalRayCluster
from agents.experience.ray_session import LOCAL_ENV


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--root", default="/tmp/tfpg-ray", help="node logs and HOME go here (default: %(default)s)"
    )
    parser.add_argument("--head-cpus", type=int, default=1, help="CPUs the head node offers (default: 1)")
    parser.add_argument(
        "--node-cpus",
        type=int,
        nargs="*",
        default=[1],
        help="one number per extra node: its CPUs (default: 1)",
    )
    parser.add_argument("--port", type=int, default=0, help="head node port (default: a free one)")
    args = parser.parse_args(argv)
    if args.head_cpus < 0 or any(cpus < 0 for cpus in args.node_cpus):
        print("error: CPU counts must be >= 0", file=sys.stderr)
        return 2
    cluster = LocalRayCluster(Path(args.root), args.head_cpus, tuple(args.node_cpus), port=args.port)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    try:
        cluster.start()
        env = " ".join(
            f"{key}={value}" for key, value in {"HOME": cluster.root / "home", **LOCAL_ENV}.items()
        )
        print(f"Ray cluster at {cluster.address} (loopback only, auth off):")
        for node in cluster.nodes:
            print(f"  {node.name}: session {node.process.pid}, log {node.log}")
        print(f"use it from another shell with:\n  env {env} python scripts/train_agent.py --backend ray "
              f"--ray-address {cluster.address} ...\nCtrl-C stops the cluster.", flush=True)  # fmt: skip
        signal.pause()
    except ClusterError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
