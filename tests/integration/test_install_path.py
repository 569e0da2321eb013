"""The Dockerfile's runtime stage, run here without Docker: a fresh virtualenv gets Tocsin and its
pinned runtime dependencies (no `build` extra), then serves the real model artefacts without torch.

This is the install path of deploy/Dockerfile's builder->runtime hand-over: the same
``pip install -c constraints.txt .`` (offline, from the wheel cache ``make setup`` fills) and the
same checks the Dockerfile runs, plus what the image relies on at start: the CLI, the bundled
brands file as package data, and classification with ONNX Runtime from an artefact folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.settings import default_cache_dir

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "deploy" / "Dockerfile"
PIP_INSTALL = "pip install --quiet -c constraints.txt ."


def run(args: list[str], cwd: Path, timeout: float = 600) -> str:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"{args}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def test_runtime_stage_installs_and_classifies_without_torch(
    tmp_path: Path, model_dir: Path
) -> None:
    assert PIP_INSTALL in DOCKERFILE.read_text(), "the Dockerfile's runtime install step changed"
    wheels = default_cache_dir() / "wheels" / f"py{sys.version_info[0]}.{sys.version_info[1]}"
    if not any(wheels.glob("*.whl")):
        pytest.fail(f"no wheel cache at {wheels}: run `make setup` first")
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    python = str(venv / "bin" / "python")
    run(
        # --no-compile only skips writing .pyc files (the image keeps them), to save a minute here.
        [
            python,
            "-m",
            *PIP_INSTALL.split()[:-1],
            "--no-compile",
            "--no-index",
            "--find-links",
            str(wheels),
            ".",
        ],
        cwd=REPO,
    )
    outside = tmp_path / "elsewhere"  # not the clone: only the installed package is importable
    outside.mkdir()
    probe = (
        "import importlib.util, sys\n"
        "assert importlib.util.find_spec('torch') is None, 'torch leaked into the runtime'\n"
        "import pipeline, pipeline.app\n"
        "from pathlib import Path\n"
        "assert 'site-packages' in pipeline.__file__, pipeline.__file__\n"
        "assert (Path(pipeline.__file__).parent / 'config' / 'brands.yaml').is_file()\n"
        "from models.classifier import load_classifier\n"
        "model = load_classifier(Path(sys.argv[1]))\n"
        "print(len(model.classify(['Brenmoor tripled the price of Glytera overnight'])))\n"
    )
    assert run([python, "-c", probe, str(model_dir)], cwd=outside).strip() == "1"
    assert "worker" in run([str(venv / "bin" / "tocsin"), "--help"], cwd=outside)
