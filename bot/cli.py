"""The `shuzi` command line: index maintenance, questions, the console chat and evaluation."""

from __future__ import annotations

import getpass
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bot.settings import Settings, SettingsError, load_settings
from bot.wiring import build_engine, configure_serving_threads, serving_reader
from corpus import (
    SUPPORTED_SUFFIXES,
    Article,
    ArticleError,
    Figure,
    discover_articles,
    left_out,
    load_article,
    read_article_bytes,
    resolve_period,
    split_article,
)
from index import (
    Answer,
    ArticleClashError,
    ArticleStore,
    ArticleStoreError,
    BuildReport,
    ChangeRefusedError,
    EmptyQuestionError,
    Engine,
    Hit,
    IndexStoreError,
    Judged,
    Provenance,
    SearchResult,
    Submission,
    evaluate,
    export_article_store,
    load_fixtures,
)
from index.comprehension import evaluate_comprehension, is_squad_file, load_comprehension_sets
from index.evaluation import answered_right, evaluate_conversations, load_conversations

app = typer.Typer(
    help="Shuzi (数字): cited answers from Chinese news articles.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # a traceback's locals would show the bot token
)
index_app = typer.Typer(help="Build and change the index.", no_args_is_help=True)
app.add_typer(index_app, name="index")
articles_app = typer.Typer(
    help="The article store: what editors added, kept apart from the index.",
    no_args_is_help=True,
)
app.add_typer(articles_app, name="articles")
console = Console(soft_wrap=True)  # piped output is not hard-wrapped inside a figure
err = Console(stderr=True, soft_wrap=True)


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "sentence_transformers", "transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    with _friendly_errors():  # a bad SHUZI_ setting is one line, before any command runs
        load_settings()


class NothingToChartError(RuntimeError):
    """The figures asked for cannot make a chart (the table is printed all the same)."""


@contextmanager
def _friendly_errors() -> Iterator[None]:
    """Known problems end with one clear line and exit code 1, not a traceback."""
    try:
        yield
    except (
        SettingsError,
        IndexStoreError,
        ArticleError,
        ArticleStoreError,
        EmptyQuestionError,
        ArticleClashError,
        ChangeRefusedError,
        RuntimeError,
    ) as exc:
        message = exc.args[0] if exc.args else str(exc)
        err.print(f"[red]error:[/red] {escape(str(message))}", highlight=False)
        raise typer.Exit(1) from None
    except OSError as exc:  # a data dir that cannot be made or written, a disk that is full
        if exc.filename is None:
            raise
        err.print(
            f"[red]error:[/red] {escape(str(exc.filename))} cannot be used ({exc.strerror}); "
            "is SHUZI_DATA_DIR (or the path given) a folder you can write?",
            highlight=False,
        )
        raise typer.Exit(1) from None


def _engine(settings: Settings | None = None, *, batch_job: bool = False) -> Engine:
    """The engine; `batch_job`: an index command, which loads no reader (and the model only
    if it embeds something)."""
    if batch_job:
        return build_engine(settings or load_settings(), batch_job=True)
    with console.status("loading the model…", spinner="dots"):
        return build_engine(settings or load_settings(), batch_job=False)


@contextmanager
def _progress() -> Iterator[object]:
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        tasks: dict[str, object] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)  # type: ignore[arg-type]

        yield update


def _print_report(report: BuildReport) -> None:
    parts = [f"generation {report.generation}"]
    for label, items in (
        ("added", report.added),
        ("replaced", report.replaced),
        ("removed", report.removed),
        ("skipped (unchanged or duplicate)", report.skipped),
    ):
        if items:
            parts.append(f"{label}: {', '.join(items)}")
    parts.append(
        f"{report.passages_added} passages added ({report.vectors_embedded} vectors embedded), "
        f"{report.passages_total} in the index"
    )
    parts.append(f"{report.seconds:.1f} s")
    console.print("; ".join(parts), highlight=False)
    for note in report.notes:
        err.print(f"[yellow]note:[/yellow] {escape(note)}", highlight=False)


def _load_paths(paths: list[Path]) -> list[Article]:
    articles = []
    for path in paths:
        files = discover_articles(path) if path.is_dir() else [path]
        for f in files:
            articles.append(load_article(f))
    return articles


def _load_corpus(folder: Path) -> list[Article]:
    """The corpus folder's articles; a file that cannot be read is skipped with a warning
    (a start must not fail because of one bad file)."""
    articles = []
    for f in discover_articles(folder) if folder.is_dir() else []:
        try:
            articles.append(load_article(f))
        except ArticleError as exc:
            err.print(f"[yellow]warning:[/yellow] {escape(str(exc))}: skipped", highlight=False)
    return articles


def _operator() -> str:
    """Who runs a command line change, for the article store's record."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"cli:uid{os.getuid()}"


@index_app.command("build")
def index_build(
    corpus: Annotated[
        Path | None, typer.Option(help="folder of articles (default: SHUZI_CORPUS_DIR)")
    ] = None,
    force: Annotated[
        bool, typer.Option(help="write a new generation even if nothing changed")
    ] = False,
    prune: Annotated[
        bool,
        typer.Option(
            help="also drop articles that are in neither the corpus nor the article store"
        ),
    ] = False,
) -> None:
    """Rebuild the index from the corpus folder and the article store (editors' articles are
    kept; nothing to do if it is current)."""
    settings = load_settings()
    with _friendly_errors():
        folder = corpus or settings.corpus_dir
        articles = _load_corpus(folder)
        engine = _engine(settings, batch_job=True)
        if not articles and not engine.article_store.live() and not engine.has_index():
            raise ArticleError(f"no articles ({', '.join(SUPPORTED_SUFFIXES)}) in {folder}")
        with _progress() as update:
            report = engine.build(articles, progress=update, force=force, prune=prune)  # type: ignore[arg-type]
        _print_report(report)


@index_app.command("sync")
def index_sync(
    corpus: Annotated[
        Path | None, typer.Option(help="folder of articles (default: SHUZI_CORPUS_DIR)")
    ] = None,
) -> None:
    """What every start runs: add corpus files and stored articles the index lacks; remove
    nothing; write nothing when the index is current."""
    settings = load_settings()
    with _friendly_errors():
        folder = corpus or settings.corpus_dir
        articles = _load_corpus(folder)
        engine = _engine(settings, batch_job=True)
        if not articles and not engine.article_store.live() and not engine.has_index():
            raise ArticleError(f"no articles ({', '.join(SUPPORTED_SUFFIXES)}) in {folder}")
        with _progress() as update:
            report = engine.sync(articles, progress=update)  # type: ignore[arg-type]
        _print_report(report)


@index_app.command("add")
def index_add(
    paths: Annotated[list[Path], typer.Argument(exists=True)],
    replace: Annotated[
        bool, typer.Option(help="replace an article of another source that has the same id")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option(help="show the passages and what is left out; change nothing")
    ] = False,
) -> None:
    """Add or replace articles (files or folders); they are kept in the article store, so
    no rebuild or restart drops them. Unchanged ones are skipped."""
    with _friendly_errors():
        by = _operator()
        subs = []
        for path in paths:
            for f in discover_articles(path) if path.is_dir() else [path]:
                data = f.read_bytes()
                article = read_article_bytes(data, name=f.name, origin=str(f.resolve()))
                subs.append(Submission(article, Provenance("cli", str(f.resolve()), by), data))
        if dry_run:
            for sub in subs:
                _show_split(sub.article)
            return
        engine = _engine(batch_job=True)
        with _progress() as update:
            report = engine.add(subs, progress=update, replace=replace)  # type: ignore[arg-type]
        _print_report(report)


def _show_split(article: Article) -> None:
    """The passages an article becomes, and what is left out of them."""
    passages = split_article(article)
    console.print(
        f"[bold]{escape(article.id)}[/bold] 《{escape(article.title)}》 {escape(article.date)}: "
        f"{len(passages)} passages",
        highlight=False,
    )
    for p in passages:
        where = " › ".join(p.section_path)
        head = f"{where}，第{p.paragraph}段" if where else f"第{p.paragraph}段"
        console.print(f"  [cyan]{escape(head)}[/cyan] {escape(p.text[:80])}", highlight=False)
    for kind, text in left_out(article.body, authors=article.authors):
        console.print(f"  [yellow]left out ({kind}):[/yellow] {escape(text)}", highlight=False)


@index_app.command("remove")
def index_remove(article_id: str) -> None:
    """Remove an article by id (recorded in the article store: no build brings it back)."""
    with _friendly_errors():
        _print_report(_engine(batch_job=True).remove([article_id], by=_operator()))


@articles_app.command("list")
def articles_list() -> None:
    """Every article in the store: live or removed, where it came from, who added it."""
    with _friendly_errors():
        store = ArticleStore(load_settings().data_dir / "articles")
        table = Table(title=f"article store · {store.root}")
        for col in ("id", "title", "state", "from", "by", "added"):
            table.add_column(col)
        for s in store.all():
            added = time.strftime("%Y-%m-%d %H:%M", time.localtime(s.provenance.at))
            table.add_row(
                s.article.id,
                s.article.title,
                s.state,
                f"{s.provenance.kind}: {s.provenance.source}",
                s.provenance.by,
                added,
            )
        console.print(table)


@articles_app.command("export")
def articles_export(file: Path) -> None:
    """Write the whole article store (texts, original bytes, provenance, figures) to FILE
    (JSON Lines; gzip when it ends in .gz)."""
    with _friendly_errors():
        settings = load_settings()
        store = ArticleStore(settings.data_dir / "articles")
        n = export_article_store(store, file, max_passage_chars=settings.max_passage_chars)
        console.print(f"{n} articles written to {file}", highlight=False)


@articles_app.command("import")
def articles_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    replace: Annotated[
        bool, typer.Option(help="replace articles of other sources that have the same ids")
    ] = False,
) -> None:
    """Keep the articles of an export in this machine's store and index them (with the
    configured backend: local or Milvus)."""
    with _friendly_errors():
        engine = _engine(batch_job=True)
        try:
            with _progress() as update:
                report = engine.import_articles(file, replace=replace, progress=update)  # type: ignore[arg-type]
        except ValueError as exc:
            raise ArticleError(str(exc)) from None
        _print_report(report)


@index_app.command("rollback")
def index_rollback() -> None:
    """Serve the previous generation again."""
    with _friendly_errors():
        console.print(f"now serving generation {_engine(batch_job=True).rollback()}")


@index_app.command("migrate")
def index_migrate(
    to: Annotated[str, typer.Option("--to", help="local (files in the index folder) or milvus")],
) -> None:
    """Copy the serving generation's vectors and postings to Milvus or back, without
    embedding again; the copy becomes the serving generation (rollback returns)."""
    with _friendly_errors():
        report = _engine(batch_job=True).migrate(to)
        console.print(
            f"generation {report.generation} serves from {to}: {report.passages_total} passages "
            f"in {report.seconds:.1f} s. Set SHUZI_STORE={to} so that later adds write there too."
        )


@index_app.command("merge")
def index_merge() -> None:
    """Merge the serving generation's segments into one, leaving deleted passages out (from
    the stored vectors: nothing is embedded again); the current generation serves meanwhile."""
    with _friendly_errors():
        report = _engine(batch_job=True).merge()
        console.print(
            f"generation {report.generation}: one segment of {report.passages_total} passages "
            f"in {report.seconds:.1f} s"
        )


@index_app.command("verify")
def index_verify() -> None:
    """Check every file of the serving generation against its checksum (serving skips files
    unchanged on disk since they were last checked)."""
    with _friendly_errors():
        number = _engine(batch_job=True).verify()
        console.print(f"generation {number}: every file matches its checksum")


@index_app.command("list")
def index_list() -> None:
    """The articles in the serving generation."""
    with _friendly_errors():
        engine = _engine(batch_job=True)
        info = engine.serving()
        table = Table(title=f"generation {info.generation} · model {info.model}")
        for col in ("id", "title", "date", "passages"):
            table.add_column(col)
        for a in engine.articles():
            table.add_row(a.id, a.title, a.date, str(a.passages))
        console.print(table)


def render_answer(answer: Answer, *, debug: bool = False) -> None:
    """The answer first (the figure or the span, then the sentence it comes from), its
    citations; `debug`: the ranked passages with their scores, the reader's confidence and
    the time taken."""
    for notice in answer.notices:
        console.print(f"[yellow]{escape(notice)}[/yellow]", highlight=False)
    if answer.lead:
        console.print(f"[bold]{escape(answer.lead)}[/bold]", highlight=False)
    for s in answer.sentences:
        console.print(f"  「{_highlight(s.text, s.highlights)}」[{s.citation}]", highlight=False)
    for c in answer.citations:
        url = f" {c.article.url}" if c.article.url else ""
        console.print(
            f"  [cyan]\\[{c.n}] {escape(c.label(answer.language))}{url}[/cyan]", highlight=False
        )
        if answer.abstained:
            console.print(f"      {escape(c.passage.text)}", highlight=False)
    for part in answer.parts:  # a question that asked several things: each part answered
        render_answer(part)
    if not debug:
        return
    en = answer.language == "en"
    console.print("[dim]" + ("Ranked passages:" if en else "相关段落：") + "[/dim]")
    for hit in answer.hits:
        console.print(
            f"[dim]{hit.rank}. {escape(hit.citation())} · score {hit.score:.3f} "
            f"(dense {hit.dense:.3f}, bm25 {hit.lexical:.2f})[/dim]",
            highlight=False,
        )
    reader = f" · reader {answer.confidence:.2f}" if answer.confidence is not None else ""
    console.print(f"[dim]{answer.latency_ms:.0f} ms · generation {answer.generation}{reader}[/dim]")


def answer_json(answer: Answer) -> dict[str, object]:
    """An answer for scripts: what is shown, and where each part comes from."""
    return {
        "question": answer.question,
        "language": answer.language,
        "abstained": answer.abstained,
        "lead": answer.lead,
        "span": answer.span.text if answer.span else None,
        "figures": [
            {
                "text": af.figure.text,
                "note": af.note,
                "metric": af.figure.metric,
                "citation": af.citation,
            }
            for af in answer.figures
        ],
        "sentences": [{"text": s.text, "citation": s.citation} for s in answer.sentences],
        "citations": [
            {
                "n": c.n,
                "article": c.article.id,
                "title": c.article.title,
                "label": c.label(answer.language),
                "url": c.article.url,
                "start": c.passage.start,
                "end": c.passage.end,
            }
            for c in answer.citations
        ],
        "notices": list(answer.notices),
        "parts": [answer_json(part) for part in answer.parts],
        "generation": answer.generation,
        "latency_ms": round(answer.latency_ms, 1),
        "confidence": answer.confidence,
    }


def _highlight(text: str, spans: tuple[tuple[int, int], ...]) -> str:
    out, pos = [], 0
    for s, e in sorted(spans):
        out += [escape(text[pos:s]), f"[bold yellow]{escape(text[s:e])}[/bold yellow]"]
        pos = e
    out.append(escape(text[pos:]))
    return "".join(out)


def render_search(result: SearchResult) -> None:
    for notice in result.notices:
        console.print(f"[yellow]{notice}[/yellow]", highlight=False)
    for hit in result.hits:
        console.print(
            f"[bold]{hit.rank}.[/bold] [cyan]{hit.citation()}[/cyan] "
            f"[dim]score {hit.score:.3f} (dense {hit.dense:.3f}, bm25 {hit.lexical:.2f}) "
            f"chars {hit.passage.start}-{hit.passage.end}[/dim]",
            highlight=False,
        )
        console.print(f"   {hit.passage.text}", highlight=False)
    console.print(f"[dim]{result.latency_ms:.0f} ms · generation {result.generation}[/dim]")


@app.command()
def ask(
    question: str,
    k: Annotated[int, typer.Option(help="passages behind the answer")] = 5,
    passages: Annotated[bool, typer.Option(help="ranked passages only, no answer")] = False,
    debug: Annotated[
        bool, typer.Option(help="also scores, the reader's confidence, times")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object on stdout")] = False,
) -> None:
    """Answer one question: the figure or the exact answer, and the sentence it comes from,
    cited."""
    with _friendly_errors():
        engine = _engine()
        engine.check_backend()
        if passages:
            render_search(engine.search(question, k=k))
            return
        answer = engine.ask(question, k=k)
        if as_json:
            sys.stdout.write(json.dumps(answer_json(answer), ensure_ascii=False) + "\n")
        else:
            render_answer(answer, debug=debug)


@app.command()
def figures(
    keyword: str,
    chart: Annotated[
        Path | None, typer.Option("--chart", help="also draw the metric's figures as a PNG")
    ] = None,
) -> None:
    """The figures about a metric across articles, with periods and citations."""
    with _friendly_errors():
        found = _engine(batch_job=True).find_figures(keyword)
        if not found:
            console.print(f"没有找到与“{keyword}”有关的数字。", highlight=False)
            if chart is not None:
                raise typer.Exit(1)
            return
        rows = _merged_figures(found)
        table = Table(title=f"“{keyword}” · {len(rows)} figures")
        for col in ("figure", "metric", "period", "change", "citation"):
            table.add_column(col)
        for fig, period, citations in rows:
            table.add_row(
                fig.text, fig.metric or fig.subject, period, fig.change, "\n".join(citations)
            )
        console.print(table)  # the table stands even when no chart can be drawn
        if chart is not None:
            _chart_figures(keyword, rows, chart)


def _period(hit: Hit, fig: Figure) -> str:
    """A figure's period with the year of its article resolved (今年 -> 今年（2022年））."""
    date = hit.article.date
    year = int(date[:4]) if date[:4].isdigit() else None
    return resolve_period(fig.period, year=year, date=date)


def _merged_figures(found: list[tuple[Hit, Figure]]) -> list[tuple[Figure, str, list[str]]]:
    """One row per figure, metric and period: a figure two passages repeat is one row with
    both citations."""
    rows: dict[tuple[str, str, str], tuple[Figure, str, list[str]]] = {}
    for hit, fig in found:
        period = _period(hit, fig)
        key = (fig.text, fig.metric or fig.subject, period)
        if key not in rows:
            rows[key] = (fig, period, [])
        if hit.citation() not in rows[key][2]:
            rows[key][2].append(hit.citation())
    return list(rows.values())


def _chart_figures(keyword: str, rows: list[tuple[Figure, str, list[str]]], out: Path) -> None:
    """The figures found, drawn: those of the most common unit, each labelled with its
    metric when several metrics share that unit (覆盖率: 92.3% and 99.5%)."""
    from bot.charts import chart_of_figures, render_chart

    metrics = {f.metric or f.subject for f, _, _ in rows}
    labelled = [
        (
            (f"{f.metric or f.subject} {period}".strip() if len(metrics) > 1 else period)
            or (f.metric or f.subject),
            f,
            citations[0],
        )
        for f, period, citations in rows
    ]
    title = next(iter(metrics)) if len(metrics) == 1 else keyword
    data = chart_of_figures(title, labelled)
    if data is None:
        raise NothingToChartError(
            f"“{keyword}” has fewer than two figures of one unit: nothing to chart"
        )
    out.write_bytes(render_chart(data))
    console.print(f"chart of “{title}” ({len(data.bars)} figures) written to {out}")


@app.command()
def chat() -> None:
    """An interactive console: type questions (follow-ups too), an empty line or Ctrl-D to
    leave."""
    with _friendly_errors():
        engine = _engine()
        engine.check_backend()
        engine.serving()  # fail now, not at the first question
        console.print("Shuzi · 数字 — 输入问题，空行或 Ctrl-D 退出。", highlight=False)
        previous: Answer | None = None  # follow-ups ("那占GDP比重呢？") read with it
        while True:
            try:
                line = console.input("[bold green]问> [/bold green]")
            except (EOFError, KeyboardInterrupt):
                break
            if not line.strip():
                break
            try:
                previous = engine.ask(line, previous=previous)
                render_answer(previous)
            except EmptyQuestionError as exc:
                console.print(str(exc))


@app.command()
def bot() -> None:
    """Run the Telegram bot (polling, or webhook mode when SHUZI_WEBHOOK_URL is set)."""
    import asyncio

    from telegram import Update

    from bot.activity import ActivityLog
    from bot.logs import setup_logging
    from bot.telegram_app import build_application, check_token
    from bot.webhook import run_webhook

    settings = load_settings()
    token = settings.telegram_token.get_secret_value() if settings.telegram_token else ""
    setup_logging(
        secrets=[token, settings.milvus_token.get_secret_value() if settings.milvus_token else ""]
    )
    with _friendly_errors():
        if not token:
            raise RuntimeError("SHUZI_TELEGRAM_TOKEN is not set (environment or .env)")
        problem = asyncio.run(check_token(settings))
        if problem:
            raise RuntimeError(problem)
        engine = build_engine(settings)
        engine.check_backend()  # a Milvus that cannot be reached is an error, not a fallback
        engine.serving()  # load and verify the index before going online
        engine.warm_up()  # first-call costs are paid before the first user arrives
        activity = ActivityLog(
            settings.data_dir / "bot.sqlite", keep_days=settings.activity_keep_days
        )
        application = build_application(settings, engine, activity)
        if settings.webhook_url:
            if settings.webhook_secret is None:
                raise RuntimeError("webhook mode needs SHUZI_WEBHOOK_SECRET")
            asyncio.run(
                run_webhook(
                    application,
                    url=settings.webhook_url,
                    secret=settings.webhook_secret.get_secret_value(),
                    listen=settings.webhook_listen,
                    port=settings.webhook_port,
                    health=lambda: {"generation": engine.serving().generation},
                )
            )
        else:
            # stop signals are the bot's own (telegram_app.stop_on_signals): they cancel a build
            application.run_polling(allowed_updates=Update.ALL_TYPES, stop_signals=None)


@app.command()
def doctor() -> None:
    """Check the settings, the data folder, the model, the reader, the index, the backend,
    the article store and the Telegram token; say what to do about each problem."""
    import asyncio

    from bot.telegram_app import check_token
    from index import ReaderWeightsError, load_reader

    settings = load_settings()
    problems = 0

    def report(ok: bool, what: str, hint: str = "") -> None:
        nonlocal problems
        problems += not ok
        mark = "[green]ok[/green]" if ok else "[red]problem[/red]"
        console.print(f"{mark}  {escape(what)}" + (f"\n      {escape(hint)}" if hint else ""))

    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        probe = settings.data_dir / ".doctor"
        probe.write_text("ok")
        probe.unlink()
        report(True, f"data folder {settings.data_dir} can be written")
    except OSError as exc:
        report(False, f"data folder {settings.data_dir}: {exc.strerror}", "set SHUZI_DATA_DIR")
    engine = build_engine(settings, batch_job=True)
    try:
        dim = engine.embedder.dim  # loads it
        report(True, f"embedding model {settings.model} loads offline ({dim} dimensions)")
    except Exception as exc:
        report(False, f"embedding model {settings.model}: {exc}", "SHUZI_MODEL, SHUZI_MODEL_CACHE")
    if settings.reader == "on":
        try:
            load_reader(settings.model_cache_dir, embedder=engine.embedder)
            report(True, "the reader's weights match their checksum")
        except (ReaderWeightsError, OSError) as exc:
            report(False, f"reader: {exc}", "reinstall, or SHUZI_READER=off to answer by rules")
    try:
        info = engine.serving()
        report(True, f"index: generation {info.generation} on {info.store}, {info.counts}")
        engine.verify()
        report(True, "every index file matches its checksum")
    except IndexStoreError as exc:
        report(False, f"index: {exc}", "`shuzi index sync` (or `shuzi index build`)")
    try:
        engine.check_backend()
        report(True, f"backend {settings.store} can be used")
    except IndexStoreError as exc:
        report(False, f"backend: {exc}", "SHUZI_STORE, SHUZI_MILVUS_URI, SHUZI_MILVUS_TOKEN")
    try:
        live = {s.article.id for s in engine.article_store.live()}
        served = {a.id for a in engine.articles()} if engine.has_index() else set()
        missing = sorted(live - served)
        report(
            not missing,
            f"article store: {len(live)} editors' articles kept"
            + (f", {len(missing)} not in the index: {', '.join(missing[:5])}" if missing else ""),
            "`shuzi index sync` adds them" if missing else "",
        )
    except (ArticleStoreError, IndexStoreError) as exc:
        report(False, f"article store: {exc}")
    if settings.telegram_token is None:
        report(True, "no SHUZI_TELEGRAM_TOKEN: `make run` starts the console chat")
    else:
        problem = asyncio.run(check_token(settings))
        report(problem is None, problem or "Telegram accepts the bot token")
    if problems:
        raise typer.Exit(1)


@app.command("eval")
def eval_(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False)],
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object on stdout")] = False,
    k: int = 5,
) -> None:
    """Replay a fixture file (JSONL) against the index, or reading-comprehension files
    (SQuAD layout, e.g. CMRC 2018) against a throwaway index of their paragraphs."""
    with _friendly_errors():
        if all(is_squad_file(f) for f in files):
            _eval_reading(files, as_json=as_json, k=k)
            return
        if len(files) != 1:
            raise RuntimeError("give one JSONL fixture file, or SQuAD-style .json files only")
        if '"turns"' in files[0].read_text(encoding="utf-8").split("\n", 1)[0]:
            _eval_conversations(files[0], as_json=as_json, k=k)
            return
        _eval_fixtures(files[0], as_json=as_json, k=k)


def _eval_conversations(file: Path, *, as_json: bool, k: int) -> None:
    """Conversations: each last turn asked after its earlier turns, and alone."""
    conversations = load_conversations(file)
    engine = _engine()
    engine.warm_up()

    def ask(question: str, previous: Answer | None) -> tuple[Judged, Answer]:
        answer = engine.ask(question, k=k, previous=previous)
        return Judged.of_answer(answer), answer

    report = evaluate_conversations(conversations, ask)
    if as_json:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
        return
    table = Table(title=f"{file.name}: {report.n} conversations")
    for col in ("id", "in conversation", "alone", "last turn"):
        table.add_column(col)
    for c, a, b in zip(conversations, report.rows_in_conversation, report.rows_alone, strict=True):
        table.add_row(
            c.id, "✓" if answered_right(a) else "", "✓" if answered_right(b) else "", c.turns[-1]
        )
    console.print(table)
    console.print(
        f"answered right: {report.right_in_conversation:.3f} in conversation, "
        f"{report.right_alone:.3f} asked alone; wrong with a figure: "
        f"{report.wrong_with_a_figure_in_conversation} in conversation, "
        f"{report.wrong_with_a_figure_alone} alone"
    )


def _eval_fixtures(file: Path, *, as_json: bool, k: int) -> None:
    fixtures = load_fixtures(file)
    engine = _engine()
    engine.warm_up()

    def run(question: str) -> Judged:
        return Judged.of_answer(engine.ask(question, k=k))

    report = evaluate(fixtures, run)
    rules = None
    if engine.reader is not None:  # the rules on the same index, side by side
        reader, engine.reader = engine.reader, None
        rules = evaluate(fixtures, run)
        engine.reader = reader
    if as_json:
        payload = report.model_dump(by_alias=True)
        if rules is not None:
            payload["rules"] = rules.model_dump(by_alias=True, exclude={"rows"})
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table(title=f"{file.name}: {report.n} questions ({report.answerable} answerable)")
    for col in ("id", "lang", "rank", "ms", "top passage", "question"):
        table.add_column(col)
    for r in report.rows:
        rank = "-" if r.no_answer_expected else (str(r.rank) if r.rank else "miss")
        table.add_row(r.id, r.language, rank, f"{r.latency_ms:.0f}", r.top, r.question)
    console.print(table)
    console.print("reader:" if rules is not None else "rules:")
    console.print_json(
        json.dumps(report.model_dump(by_alias=True, exclude={"rows"}), ensure_ascii=False)
    )
    if rules is not None:
        console.print("rules, same index:")
        console.print_json(
            json.dumps(rules.model_dump(by_alias=True, exclude={"rows"}), ensure_ascii=False)
        )


def _eval_reading(files: list[Path], *, as_json: bool, k: int) -> None:
    """Index the files' paragraphs (one article each) in a throwaway data directory, with
    the configured model, then ask every question."""
    settings = load_settings()
    reading = load_comprehension_sets(files)
    with tempfile.TemporaryDirectory(prefix="shuzi-eval-") as tmp:
        overrides: dict[str, object] = {
            "data_dir": Path(tmp),
            "model_cache": settings.model_cache_dir,
        }
        if settings.milvus_uri:  # a shared server: collections of their own, dropped after
            overrides["milvus_prefix"] = f"{settings.milvus_prefix}_eval{os.getpid()}"
        throwaway = settings.model_copy(update=overrides)
        engine = _engine(throwaway, batch_job=True)
        with _progress() as update:
            engine.build(list(reading.articles), progress=update)  # type: ignore[arg-type]
        configure_serving_threads(throwaway)
        engine.reader = serving_reader(throwaway, engine.embedder)
        engine.warm_up()
        report = evaluate_comprehension(reading.questions, lambda q: engine.ask(q, k=k))
        rules = None
        if engine.reader is not None:  # the rules on the same index, side by side
            reader, engine.reader = engine.reader, None
            rules = evaluate_comprehension(reading.questions, lambda q: engine.ask(q, k=k))
            engine.reader = reader
        engine.drop_collections(all_of_them=True)
    if as_json:
        payload = report.model_dump(by_alias=True)
        if rules is not None:
            payload["rules"] = rules.model_dump(by_alias=True, exclude={"rows"})
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table(title=f"{', '.join(f.name for f in files)}: {report.n} questions")
    for col in ("id", "rank", "sentence", "EM", "F1", "answer", "question"):
        table.add_column(col)
    for r in report.rows:
        rank = "-" if not r.answerable else (str(r.rank) if r.rank else "miss")
        if r.abstained:
            rank += " (abstained)"
        table.add_row(
            r.id,
            rank,
            "✓" if r.sentence_ok else "",
            f"{r.em:.0f}",
            f"{r.f1:.2f}",
            r.prediction[:40],
            r.question,
        )
    console.print(table)
    console.print("reader:" if rules is not None else "rules:")
    console.print_json(report.model_dump_json(by_alias=True, exclude={"rows"}))
    if rules is not None:
        console.print("rules, same index:")
        console.print_json(rules.model_dump_json(by_alias=True, exclude={"rows"}))
