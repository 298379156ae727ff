"""A full disk mid-run: a clear message (no traceback), earlier checkpoints intact, and the run resumes once there
is room again. The run directory sits on a 300 KiB tmpfs mounted for the test."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agents.run import checkpoint as ckpt

TRAIN = Path(__file__).resolve().parents[1] / "scripts" / "train_agent.py"


@pytest.fixture
def small_disk(tmp_path):
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mount_point)], check=False
    )
    # CI and this machine run the suite as root; a mount that fails is a failure, not a silent skip
    assert mounted.returncode == 0, "could not mount a 300k tmpfs for the test (needs root)"
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=True)


def test_a_full_disk_stops_with_a_message_and_the_run_resumes_elsewhere(small_disk, tmp_path):
    args = ["--total-steps", "4096", "--eval-episodes", "1", "--logdir", str(small_disk), "--run-name", "r"]
    args += ["--no-progress", "--set", "video=false", "--set", "histogram_every=1"]  # histograms fill it fast
    args += ["--eval-every", "0"]  # no periodic best/ model (~120 KB) taking the first checkpoint's room
    out = subprocess.run([sys.executable, str(TRAIN), *args], capture_output=True, text=True, timeout=600)
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr and "no space left on the device" in out.stderr, out.stderr
    run_dir = small_disk / "r"
    latest = ckpt.latest_in(run_dir / ckpt.CHECKPOINT_DIR)
    assert latest is not None and f"last complete checkpoint is {latest}" in out.stderr
    # Moved to a disk with room, the run continues from that checkpoint to the end.
    moved = tmp_path / "moved"
    shutil.copytree(run_dir, moved, ignore=shutil.ignore_patterns(".tfpg.lock"))
    resumed = subprocess.run(
        [sys.executable, str(TRAIN), "--resume", str(moved), "--no-progress"], capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads((moved / "summary.json").read_text())
    assert summary["total_steps"] == 4096 and summary["resumed_from_step"] == int(latest.rsplit("-", 1)[1])
    assert not list(moved.glob(".*.tmp-*")) and not list(moved.glob("checkpoint/*_temp"))
