"""What a user sees: a real ``tensorboard`` process serving a real short run, queried through its HTTP API."""

import json
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from agents.config import resolve_config
from agents.run.trainer import train
from envs.testing import CONTINUOUS_COIN_ID

SCALAR_TAGS = {
    "rollout/episode_return", "rollout/episode_length",
    "train/policy_loss", "train/value_loss", "train/entropy", "train/approx_kl", "train/clip_fraction",
    "train/explained_variance", "train/learning_rate", "train/clip_range", "train/grad_norm",
    "time/sps", "time/collect_s", "time/update_s",
    "eval/mean_return", "eval/std_return", "eval/mean_length",
}  # fmt: skip
STEPS_PER_UPDATE = 256  # CartPole preset: 8 envs x 32 steps


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(base: str, path: str, raw: bool = False, **params):
    url = f"{base}{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
    with urllib.request.urlopen(url, timeout=30) as response:
        body = response.read()
    return body.decode() if raw else json.loads(body)


def post(base: str, path: str, body: dict):
    request = urllib.request.Request(
        f"{base}{path}", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def served_run(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("runs")
    values = {
        "total_steps": 4096,
        "eval_every": 2048,
        "eval_episodes": 2,
        "histogram_every": 4,
        "update_epochs": 2,
    }
    summary = train(resolve_config("ppo", "CartPole-v1", values), logdir / "tbrun", progress=False)
    # A continuous-action env that reports is_success and an info key: the tags CartPole cannot have.
    coin = {"num_envs": 2, "num_steps": 16, "minibatch_size": 32, "total_steps": 64, "update_epochs": 1,
            "eval_episodes": 1, "eval_envs": 1, "info_keys": ["bonus"], "histogram_every": 1,
            "log_graph": True}  # fmt: skip
    train(resolve_config("ppo", CONTINUOUS_COIN_ID, coin), logdir / "coinrun", progress=False)
    port = free_port()
    tensorboard = Path(sys.executable).with_name("tensorboard")
    server = subprocess.Popen(
        [str(tensorboard), "--logdir", str(logdir), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if {"tbrun", "coinrun"} <= set(get(base, "/data/runs")):
                    break
            except OSError:
                pass
            assert server.poll() is None, server.stderr.read().decode()
            assert time.monotonic() < deadline, "tensorboard did not serve the run within 60 s"
            time.sleep(0.5)
        yield base, summary, logdir / "tbrun"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_every_scalar_tag_at_env_steps(served_run):
    base, _, _ = served_run
    tags = set(get(base, "/data/plugin/scalars/tags")["tbrun"])
    assert tags >= SCALAR_TAGS, SCALAR_TAGS - tags
    points = get(base, "/data/plugin/scalars/scalars", run="tbrun", tag="train/policy_loss")
    assert [step for _, step, _ in points] == list(range(STEPS_PER_UPDATE, 4097, STEPS_PER_UPDATE))
    evals = get(base, "/data/plugin/scalars/scalars", run="tbrun", tag="eval/mean_return")
    assert [step for _, step, _ in evals] == [2048, 4096]
    lr = get(base, "/data/plugin/scalars/scalars", run="tbrun", tag="train/learning_rate")
    assert lr[0][2] == pytest.approx(1e-3) and lr[-1][2] < lr[0][2]  # linear annealing shows


def test_continuous_and_custom_tags(served_run):
    base, _, _ = served_run
    tags = set(get(base, "/data/plugin/scalars/tags")["coinrun"])
    assert {"rollout/success_rate", "rollout/info/bonus", "train/policy_std"} <= tags
    bonus = get(base, "/data/plugin/scalars/scalars", run="coinrun", tag="rollout/info/bonus")
    assert [(step, value) for _, step, value in bonus] == [(32, 2.0), (64, 2.0)]
    assert "policy/log_std" in get(base, "/data/plugin/histograms/tags")["coinrun"]


def test_histograms_images_and_videos(served_run):
    base, _, run_dir = served_run
    hist_tags = set(get(base, "/data/plugin/histograms/tags")["tbrun"])
    assert {"rollout/actions", "train/advantages", "train/value_targets"} <= hist_tags, hist_tags
    assert any(t.startswith("weights/") for t in hist_tags) and any(
        t.startswith("gradients/") for t in hist_tags
    )
    hist = get(base, "/data/plugin/histograms/histograms", run="tbrun", tag="rollout/actions")
    assert [step for _, step, _ in hist] == [1024, 2048, 3072, 4096]  # every 4 updates
    image_tags = get(base, "/data/plugin/images/tags")["tbrun"]
    assert "eval/video_frames" in image_tags
    assert sorted(p.name for p in (run_dir / "videos").glob("*.mp4")) == ["eval-2048.mp4", "eval-4096.mp4"]


def test_hparams_tab_lists_run_with_config_and_final_metric(served_run):
    base, summary, _ = served_run
    experiment = post(base, "/data/plugin/hparams/experiment", {"experimentName": ""})
    names = {info["name"] for info in experiment["hparamInfos"]}
    assert {"agent.learning_rate", "run.env_id", "run.seed", "network.hidden_sizes"} <= names
    groups = post(
        base,
        "/data/plugin/hparams/session_groups",
        {"experimentName": "", "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_RUNNING"],
         "colParams": [], "startIndex": 0, "sliceSize": 100},
    )["sessionGroups"]  # fmt: skip
    (group,) = [g for g in groups if g["name"] == "tbrun"]
    assert group["hparams"]["run.env_id"] == "CartPole-v1"
    assert group["hparams"]["agent.learning_rate"] == pytest.approx(1e-3)
    metric = {m["name"]["tag"]: m for m in group["metricValues"]}["eval/mean_return"]
    assert metric["value"] == pytest.approx(summary["eval_mean_return"]) and metric["trainingStep"] == 4096


def test_config_and_command_text_at_step_zero(served_run):
    base, _, _ = served_run
    text_tags = get(base, "/data/plugin/text/tags")["tbrun"]
    assert {"config", "command"} <= set(text_tags)
    (entry,) = get(base, "/data/plugin/text/text", run="tbrun", tag="config")
    assert entry["step"] == 0 and "CartPole-v1" in entry["text"]


def test_log_graph_shows_the_update_graph(served_run):
    """--log-graph: the Graphs tab lists the coin run's compiled update, and that graph holds its ops."""
    base, _, _ = served_run
    info = get(base, "/data/plugin/graphs/info")
    assert info["coinrun"]["tags"]["train/update_step"]["op_graph"] is True
    assert "tbrun" not in info  # not asked for, not written
    graph = get(base, "/data/plugin/graphs/graph", raw=True, run="coinrun", tag="train/update_step")
    assert graph.count('op: "MatMul"') >= 4  # forward and backward passes of the MLP
