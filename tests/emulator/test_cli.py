"""``python -m kube_emulator``: ready file, kubeconfig, request log, clean shutdown."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from support import Http

EMULATOR_DIR = Path(__file__).resolve().parent


def wait_for(path: Path, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)


def test_cli_writes_ready_file_and_kubeconfig_and_stops_on_sigterm(tmp_path, crd_dir):
    ready, kubeconfig, log = tmp_path / "ready.json", tmp_path / "kubeconfig", tmp_path / "log.jsonl"
    env = {**os.environ, "PYTHONPATH": str(EMULATOR_DIR)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kube_emulator", "--port", "0", "--kube-version", "1.30",
         "--crd-dir", str(crd_dir), "--kubeconfig", str(kubeconfig), "--ready-file", str(ready),
         "--request-log", str(log)], env=env, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(ready)
        info = json.loads(ready.read_text())
        assert info["url"] == f"http://127.0.0.1:{info['port']}"
        config = yaml.safe_load(kubeconfig.read_text())
        assert config["current-context"] == "emulator"
        assert config["clusters"][0]["cluster"]["server"] == info["url"]
        assert "token" in config["users"][0]["user"]
        http = Http(info["url"])
        assert http.get("/version").body["gitVersion"] == "v1.30.0"
        assert http.get("/apis/monitoring.coreos.com/v1/servicemonitors").status == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert [json.loads(line)["path"] for line in log.read_text().splitlines()] == [
            "/version", "/apis/monitoring.coreos.com/v1/servicemonitors"]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_rejects_unsupported_kube_version():
    env = {**os.environ, "PYTHONPATH": str(EMULATOR_DIR)}
    result = subprocess.run([sys.executable, "-m", "kube_emulator", "--kube-version", "1.10"],
                            env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "unsupported kube version" in result.stderr
