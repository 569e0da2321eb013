"""Optional build step: fine-tune the encoder on the training split before export (``--finetune``).

Why: a frozen e5-small plus a linear head plateaus below the macro-F1 targets (EN 0.85, FR 0.80)
and more rows do not move it; adapting the encoder itself to the pharma topics is the next lever. It runs
at build time only (torch, the ``build`` extra); the result is an ordinary checkpoint folder that
goes through the same ONNX export, int8 quantisation and numpy head as the plain backbone, so
serving is unchanged.

How: masked mean pooling + L2 normalisation exactly as the exported graph does, a temporary linear
multi-label head with BCE, AdamW. Only the top ``trained_layers`` transformer layers are trained;
the embeddings (250k x 384, 80 % of the weights) and the lower layers are frozen, so autograd
builds no backward graph for them: training all layers did not finish one epoch in 4 minutes
on the shared 2-core build machine, too slow for a build step. A seeded validation slice of the
*training* split is held out of the fine-tune and picks the epoch (best validation macro-F1);
the test split is never read here.

The folder lives in ``$TOCSIN_CACHE/finetuned/<backbone slug>-<digest>/`` where the digest covers
the corpus, the taxonomy and ``FINETUNE_CONFIG``, so a changed input fine-tunes again.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from models.artefacts import atomic_dir, slug
from models.corpus import Example
from models.encoder import QUERY_PREFIX

Progress = Callable[[str], None]
REPORT_FILE = "finetune.json"


def split_validation(
    examples: Sequence[Example], fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """(fit, validation) from training examples, seeded; never called with test examples."""
    if any(e.split != "train" for e in examples):
        raise ValueError("fine-tuning only ever sees the train split")
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    n_val = round(len(examples) * fraction)
    val = {*order[:n_val]}
    return (
        [e for i, e in enumerate(examples) if i not in val],
        [e for i, e in enumerate(examples) if i in val],
    )


def label_matrix(examples: Sequence[Example], topics: Sequence[str]) -> npt.NDArray[np.float32]:
    """Multi-hot targets, one column per trained topic (the fallback has no column)."""
    index = {t: i for i, t in enumerate(topics)}
    y = np.zeros((len(examples), len(topics)), np.float32)
    for row, e in enumerate(examples):
        for t in e.topics:
            if t in index:
                y[row, index[t]] = 1.0
    return y


def macro_f1(
    y: npt.NDArray[np.float32], p: npt.NDArray[np.float32], threshold: float = 0.5
) -> float:
    """Macro-F1 over the columns with at least one positive (validation-slice selection only)."""
    pred = p >= threshold
    gold = y >= 0.5
    scores = []
    for j in range(y.shape[1]):
        if not gold[:, j].any():
            continue
        tp = float((pred[:, j] & gold[:, j]).sum())
        fp = float((pred[:, j] & ~gold[:, j]).sum())
        fn = float((~pred[:, j] & gold[:, j]).sum())
        scores.append(2 * tp / max(2 * tp + fp + fn, 1.0))
    return float(np.mean(scores)) if scores else 0.0


def finetune(
    model_dir: str,
    out: Path,
    train: Sequence[Example],
    topics: Sequence[str],
    config: Mapping[str, Any],
    progress: Progress = print,
) -> Path:
    """Fine-tune ``model_dir`` on ``train`` into ``out`` (a checkpoint folder); cached by ``out``."""
    if (out / "config.json").is_file() and (out / REPORT_FILE).is_file():
        progress(f"finetune: using cached {out}")
        return out
    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.set_num_threads(int(config["threads"]))
    seed = int(config["seed"])
    torch.manual_seed(seed)
    fit, val = split_validation(train, float(config["val_fraction"]), seed)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    net = AutoModel.from_pretrained(model_dir, attn_implementation="eager", dtype=torch.float32)
    net.embeddings.requires_grad_(False)
    layers = net.encoder.layer
    for layer in layers[: len(layers) - int(config["trained_layers"])]:
        layer.requires_grad_(False)
    head = torch.nn.Linear(net.config.hidden_size, len(topics))
    scale = float(config["logit_scale"])
    max_length = int(config["max_length"])

    def embed(texts: Sequence[str]) -> Any:
        enc = tokenizer(
            [QUERY_PREFIX + t for t in texts],
            padding=True,
            truncation=True,
            max_length=max_length,
            return_tensors="pt",
        )
        hidden = net(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])[0]
        mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2.0, dim=-1)

    def validate() -> float:
        net.eval()
        probs = []
        with torch.no_grad():
            for start in range(0, len(val), 64):
                logits = head(embed([e.text for e in val[start : start + 64]]) * scale)
                probs.append(torch.sigmoid(logits).numpy())
        net.train()
        return macro_f1(label_matrix(val, topics), np.concatenate(probs))

    y_fit = torch.from_numpy(label_matrix(fit, topics))
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(
        [
            {"params": params, "lr": float(config["lr"])},
            {"params": head.parameters(), "lr": float(config["head_lr"])},
        ],
        weight_decay=0.01,
    )
    batch = int(config["batch_size"])
    epochs = int(config["epochs"])
    steps = epochs * ((len(fit) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, 1.0 - s / max(steps, 1)))
    rng = random.Random(seed)
    history: list[dict[str, float]] = []
    best: tuple[float, int, dict[str, Any] | None] = (-1.0, 0, None)
    t0 = time.perf_counter()
    net.train()
    for epoch in range(1, epochs + 1):
        order = list(range(len(fit)))
        rng.shuffle(order)
        total = 0.0
        for start in range(0, len(order), batch):
            idx = order[start : start + batch]
            logits = head(embed([fit[i].text for i in idx]) * scale)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y_fit[idx])
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            step = start // batch + 1
            if step % 20 == 0:
                progress(f"finetune: epoch {epoch} step {step} ({time.perf_counter() - t0:.0f}s)")
        score = validate()
        history.append(
            {
                "epoch": epoch,
                "train_loss": round(total / len(fit), 5),
                "val_macro_f1": round(score, 4),
                "seconds": round(time.perf_counter() - t0, 1),
            }
        )
        progress(f"finetune: epoch {epoch}/{epochs} {history[-1]}")
        if score > best[0]:
            state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            best = (score, epoch, state)
    if best[2] is not None:
        net.load_state_dict(best[2])
    with atomic_dir(out) as tmp:
        net.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        report = {
            "config": dict(config),
            "fit": len(fit),
            "validation": len(val),
            "best_epoch": best[1],
            "best_val_macro_f1": round(best[0], 4),
            "history": history,
            "seconds": round(time.perf_counter() - t0, 1),
        }
        (tmp / REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n")
    progress(f"finetune: kept epoch {best[1]} (val macro-F1 {best[0]:.4f}) -> {out}")
    return out


def finetuned_dir(cache: Path, backbone: str, digest: str) -> Path:
    """Where the fine-tuned checkpoint of ``backbone`` for inputs ``digest`` is cached."""
    return cache / "finetuned" / f"{slug(backbone)}-{digest[:12]}"


def read_report(folder: Path) -> dict[str, Any]:
    """The fine-tune report written next to the checkpoint (for meta.json)."""
    data: dict[str, Any] = json.loads((folder / REPORT_FILE).read_text())
    return data
