"""The `shuzi` command line, as a user runs it, on the real model in a temporary data dir."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.conftest import ARTICLE_PATH, MODEL_CACHE

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def env(tmp_path_factory):  # type: ignore[no-untyped-def]
    data = tmp_path_factory.mktemp("data")
    corpus = tmp_path_factory.mktemp("corpus")
    (corpus / ARTICLE_PATH.name).write_bytes(ARTICLE_PATH.read_bytes())
    return {
        "SHUZI_DATA_DIR": str(data),
        "SHUZI_MODEL_CACHE": str(MODEL_CACHE),
        "SHUZI_CORPUS_DIR": str(corpus),
    }


@pytest.fixture(scope="module")
def shuzi(env):  # type: ignore[no-untyped-def]
    runner = CliRunner()

    def run(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, list(args), env=env)

    built = run("index", "build")
    assert built.exit_code == 0, built.output
    return run


def _generation(shuzi) -> str:  # type: ignore[no-untyped-def]
    out = shuzi("index", "list")
    assert out.exit_code == 0, out.output
    return out.output.split("generation ")[1].split()[0]


def test_ask_prints_cited_passages(shuzi):
    out = shuzi("ask", "株洲数字经济规模多少？")
    assert out.exit_code == 0, out.output
    assert "1118亿元" in out.output and "第3段" in out.output and "数字经济，制造名城" in out.output


def test_list_shows_the_article(shuzi):
    out = shuzi("index", "list")
    assert "zhuzhou-digital-economy" in out.output and "57" in out.output


def test_empty_question_is_a_clear_error(shuzi):
    out = shuzi("ask", "   ")
    assert out.exit_code == 1 and "请输入一个问题" in out.output


def test_huge_question_is_cut_with_a_notice(shuzi):
    out = shuzi("ask", "数字经济" * 2500)
    assert out.exit_code == 0 and "问题过长（10000字）" in out.output


def test_bad_uploads_change_nothing(shuzi, tmp_path):
    before = _generation(shuzi)
    binary = tmp_path / "photo.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256)) * 4)
    empty = tmp_path / "empty.md"
    empty.write_text("   \n")
    for path, message in ((binary, "binary"), (empty, "empty")):
        out = shuzi("index", "add", str(path))
        assert out.exit_code == 1 and message in out.output, out.output
    dup = shuzi("index", "add", str(ARTICLE_PATH))
    assert dup.exit_code == 0 and "skipped" in dup.output
    assert _generation(shuzi) == before


def test_gbk_article_is_added_and_answers(shuzi, tmp_path):
    path = tmp_path / "fictional-gbk.txt"
    path.write_bytes(
        "# 虚构测试文章\n\n（本文为测试而虚构。）\n\n青石市共有虚构灯塔17座。".encode("gbk")
    )
    out = shuzi("index", "add", str(path))
    assert out.exit_code == 0 and "added: fictional-gbk" in out.output, out.output
    answer = shuzi("ask", "青石市有几座灯塔？", "--k", "1")
    assert "青石市共有虚构灯塔17座" in answer.output
    assert shuzi("index", "remove", "fictional-gbk").exit_code == 0


def test_merge_then_verify(shuzi, tmp_path):
    path = tmp_path / "fictional-merge.txt"
    path.write_text("# 虚构合并测试\n\n（本文为测试而虚构。）\n\n白沙市共有虚构渡口9座。")
    assert shuzi("index", "add", str(path)).exit_code == 0
    merged = shuzi("index", "merge")
    assert merged.exit_code == 0 and "one segment of" in merged.output, merged.output
    assert "白沙市共有虚构渡口9座" in shuzi("ask", "白沙市有几座渡口？", "--k", "1").output
    verified = shuzi("index", "verify")
    assert verified.exit_code == 0 and "matches its checksum" in verified.output
    assert shuzi("index", "remove", "fictional-merge").exit_code == 0


def test_eval_json(shuzi, tmp_path):
    fx = tmp_path / "fx.jsonl"
    fx.write_text(
        '{"id": "x1", "question": "株洲有多少家省级专精特新小巨人企业？", '
        '"expect": {"passage_contains": ["201家"], "figures": ["201家"]}}\n'
        '{"id": "x2", "question": "株洲的平均房价是多少？", "expect": {"no_answer": true}}\n',
        encoding="utf-8",
    )
    out = shuzi("eval", str(fx), "--json")
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    for key in (
        "n",
        "hit@1",
        "hit@3",
        "hit@5",
        "mrr",
        "figure_accuracy",
        "abstain_precision",
        "abstain_recall",
        "latency_ms_p50",
        "latency_ms_p95",
        "rows",
    ):
        assert key in report
    assert report["n"] == 2 and report["hit@1"] == 1.0
    assert report["rows"][0]["id"] == "x1" and report["rows"][0]["rank"] == 1


def test_migrate_to_milvus_and_back_keeps_the_answer(env, tmp_path):
    pytest.importorskip("milvus_lite")
    runner = CliRunner()
    mine = {**env, "SHUZI_DATA_DIR": str(tmp_path)}
    assert runner.invoke(app, ["index", "build"], env=mine).exit_code == 0
    before = runner.invoke(app, ["ask", "株洲数字经济规模多少？"], env=mine).output
    out = runner.invoke(app, ["index", "migrate", "--to", "milvus"], env=mine)
    assert out.exit_code == 0 and "serves from milvus" in out.output, out.output
    on_milvus = runner.invoke(app, ["ask", "株洲数字经济规模多少？"], env=mine).output
    out = runner.invoke(app, ["index", "migrate", "--to", "local"], env=mine)
    assert out.exit_code == 0, out.output
    after = runner.invoke(app, ["ask", "株洲数字经济规模多少？"], env=mine).output
    assert "1118亿元" in on_milvus

    def strip(text: str) -> str:  # the generation number and the latency differ
        return "\n".join(line for line in text.splitlines() if "generation" not in line)

    assert strip(before) == strip(after)


def test_unreachable_milvus_is_one_clear_line_naming_the_uri(env, tmp_path):
    pytest.importorskip("milvus_lite")
    mine = {
        **env,
        "SHUZI_DATA_DIR": str(tmp_path),
        "SHUZI_STORE": "milvus",
        "SHUZI_MILVUS_URI": "http://127.0.0.1:9",
        "SHUZI_MILVUS_TOKEN": "root:secret-password-1",
        "SHUZI_MILVUS_TIMEOUT": "2",
    }
    out = CliRunner().invoke(app, ["index", "build"], env=mine)
    assert out.exit_code == 1
    assert "Milvus at http://127.0.0.1:9 cannot be reached" in out.output, out.output
    assert "Traceback" not in out.output and "secret-password-1" not in out.output


def test_ask_is_concise_unless_debugging_and_speaks_json(shuzi):
    plain = shuzi("ask", "株洲数字经济规模多少？")
    assert plain.exit_code == 0 and "score" not in plain.output and " ms" not in plain.output
    debug = shuzi("ask", "--debug", "株洲数字经济规模多少？")
    assert "score" in debug.output and " ms · generation" in debug.output
    out = shuzi("ask", "--json", "株洲数字经济规模多少？")
    answer = json.loads(out.stdout)
    assert answer["abstained"] is False and "1118亿元" in answer["lead"]
    assert answer["citations"][0]["article"] == "zhuzhou-digital-economy"


def test_figures_find_growth_by_its_words_and_chart_two_metrics_of_one_unit(shuzi, tmp_path):
    growth = shuzi("figures", "增速")
    assert growth.exit_code == 0 and "17.8%" in growth.output and "12.6%" in growth.output
    english = shuzi("figures", "coverage")
    assert english.exit_code == 0 and "92.3%" in english.output  # through the lexicon
    png = tmp_path / "coverage.png"
    charted = shuzi("figures", "覆盖率", "--chart", str(png))
    assert charted.exit_code == 0 and "92.3%" in charted.output and "99.5%" in charted.output
    assert png.read_bytes()[:4] == b"\x89PNG"
