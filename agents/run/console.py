"""A quiet start: TensorFlow's start-up chatter off the console, real warnings and errors kept.

Importing TensorFlow on a CPU-only machine prints lines a user reads as failures although nothing is wrong:
absl's "All log messages before absl::InitializeLog() is called are written to STDERR", "Could not find cuda
drivers on your machine", "failed call to cuInit" (an ``E``-level line), the CPU-feature and oneDNN notices.
They are written by C++ straight to file descriptor 2, before and while the devices initialize, so neither
``TF_CPP_MIN_LOG_LEVEL`` alone nor Python's logging can hold them back. ``import_tensorflow`` imports TensorFlow
and initializes its devices with descriptor 2 pointed at a temporary file, then re-prints every captured line
that is not one of those known notices. SDL (pygame, used to render classic-control frames for videos) prints
"XDG_RUNTIME_DIR is invalid" when it probes for a display; frames are rendered off-screen, so SDL gets its
dummy video driver.

``verbose=True`` (``train_agent.py --verbose``) changes nothing: every line shows as TensorFlow prints it.

``onednn=True`` turns on TensorFlow's oneDNN kernels for runs whose network has a CNN: on this machine's CPUs
(AVX2, no AVX-512) TensorFlow leaves them off, and convolution gradients are then ~1.7x slower (see
`wants_onednn`).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

HARMLESS = re.compile(
    r"absl::InitializeLog\(\)"
    r"|cudart_stub\.cc.*Could not find cuda drivers"
    r"|failed call to cuInit"
    r"|cpu_feature_guard\.cc"
    r"|To enable the following instructions: .* rebuild TensorFlow"
    r"|oneDNN custom operations are on"
)
"""Start-up lines printed on every CPU-only machine; nothing a user can or should act on."""


ONEDNN_VARIABLE = "TF_ENABLE_ONEDNN_OPTS"
"""TensorFlow reads it once, when it is imported: "1" runs convolutions and matmuls through oneDNN."""


def wants_onednn(cnn: str) -> bool:
    """Whether a run whose network config has ``cnn`` (`NetworkConfig.cnn`) should import TensorFlow with oneDNN.

    Yes when the config names a conv architecture (the Atari and MinAtar presets do). Measured on this 2-core
    AMD EPYC (BENCHMARKS.md, "Pixels"): one NatureCNN PPO minibatch step 376 → 207 ms (1 thread), ALE/Pong-v5
    PPO 1.42x SB3's SPS instead of 1.06x, MinAtar Breakout +8 %; but a small MLP update call ~5 % slower
    (``benchmarks/update_call_cost.py``), so runs without a named CNN keep TensorFlow's default. Own image envs
    with ``cnn=auto`` get it with ``--set cnn=nature`` (or any named architecture) or ``TF_ENABLE_ONEDNN_OPTS=1``.
    """
    return cnn != "auto"


def import_tensorflow(verbose: bool = False, headless: bool = True, onednn: bool = False):
    """Import TensorFlow and initialize its devices; unless ``verbose``, without its start-up notices.

    Call it before anything else imports TensorFlow (later imports are then no-ops).

    Args:
        verbose: show everything TensorFlow prints.
        headless: give SDL its dummy video driver (frames rendered for videos need no display); False for
            ``render_mode="human"`` windows.
        onednn: import TensorFlow with its oneDNN kernels (`wants_onednn`), unless ``TF_ENABLE_ONEDNN_OPTS`` is
            set already (the user's choice wins) or TensorFlow is imported already (too late to change).

    Returns:
        The ``tensorflow`` module.
    """
    if onednn:
        os.environ.setdefault(ONEDNN_VARIABLE, "1")
    if verbose:
        import tensorflow as tf

        return tf
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # C++ INFO and WARNING logs once absl is set up
    if headless:
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    with tempfile.TemporaryFile() as captured:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()  # device initialization prints the cuInit line
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines():
                if line.strip() and not HARMLESS.search(line):
                    print(line, file=sys.stderr)
    return tf
