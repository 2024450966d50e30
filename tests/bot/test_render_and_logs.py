"""Rendering limits and log redaction, without Telegram."""

from __future__ import annotations

import logging

from bot.logs import RedactingFilter
from bot.render import bold_spans, pack_messages, strip_html, utf16_len


def test_utf16_counts_like_telegram():
    assert utf16_len("株洲") == 2 and utf16_len("👍") == 2 and utf16_len("a") == 1


def test_messages_stay_under_the_limit_and_blocks_stay_whole():
    blocks = [f"<b>{i}</b> " + "株洲数字经济规模1118亿元。" * 20 for i in range(40)]
    messages = pack_messages(blocks)
    assert all(utf16_len(m) <= 4096 for m in messages)
    assert "".join(messages).count("<b>") == 40  # no block was cut inside its tag
    assert sum(m.count("<b>") for m in messages) == sum(m.count("</b>") for m in messages)


def test_a_huge_block_is_cut_at_sentence_ends():
    block = "<b>长</b>" + "这是一句很长的话，" * 50 + "结束。" + ("另一句话。" * 2000)
    messages = pack_messages([block])
    assert len(messages) > 1 and all(utf16_len(m) <= 4096 for m in messages)
    assert all(m.endswith("。") for m in messages[:-1])
    assert "".join(strip_html(m) for m in messages) == strip_html(block)


def test_emoji_heavy_text_counts_surrogates():
    messages = pack_messages(["👍" * 3000])
    assert all(utf16_len(m) <= 4096 for m in messages) and len(messages) == 2


def test_user_text_is_escaped():
    assert bold_spans("<script>1118亿元&", [(8, 14)]) == "&lt;script&gt;<b>1118亿元</b>&amp;"


def test_token_is_redacted_from_messages_arguments_and_tracebacks():
    token = "123:SECRET"
    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        __file__,
        1,
        "HTTP Request: POST %s",
        (f"https://api.telegram.org/bot{token}/getMe",),
        None,
    )
    RedactingFilter([token]).filter(record)
    assert token not in record.getMessage() and "<token>" in record.getMessage()
    try:
        raise RuntimeError(f"failed at /bot{token}/sendMessage")
    except RuntimeError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", None, sys.exc_info())
    RedactingFilter([token]).filter(record)
    assert token not in (record.exc_text or "") and "<token>" in (record.exc_text or "")


def test_an_abstention_shows_why_before_the_closest_passages():
    from bot.render import answer_blocks
    from index import Answer

    answer = Answer(
        question="株洲2023年数字经济规模是多少？",
        language="zh",
        abstained=True,
        sentences=(),
        figures=(),
        citations=(),
        hits=(),
        notices=("文章里没有2023年的数据，最接近的段落说的是2022年。",),
    )
    blocks = answer_blocks(answer)
    assert blocks[0] == "<i>文章里没有2023年的数据，最接近的段落说的是2022年。</i>"
    assert blocks[1].startswith("文章中没有找到")


def test_the_exact_answer_and_qualified_figures_reach_the_chat(tmp_path):
    from bot.render import answer_blocks
    from corpus import Article
    from index import Engine, HashEmbedder, IndexFolder

    engine = Engine(store=IndexFolder(tmp_path / "index"), embedder=HashEmbedder())
    body = "某某铁路是一条铁路，全长300公里，如计入支线，全长420公里。该铁路于2001年通车，由王五主持设计。"
    engine.build([Article(id="rail", title="某某铁路", body=body)])
    span = answer_blocks(engine.ask("某某铁路由谁主持设计？"))
    assert span[0] == "答：<b>王五</b> [1]"
    assert "<b>王五</b>" in span[1]  # bold in the quoted sentence too
    figures = answer_blocks(engine.ask("某某铁路全长多少公里？"))
    assert "<b>420公里</b>（如计入支线） [1]" in figures[0]
