"""What the bot says, in Chinese (the default) and English."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from bot.feeds import Feed
from index import ArticleInfo, BuildReport, Hints

_TEXTS: dict[str, dict[str, str]] = {
    "zh": {
        "quota": "提问太频繁了，请稍等一分钟再问。",
        "empty": "请输入一个问题。",
        "ask_usage": "用法：/ask 问题，例如 /ask 株洲数字经济规模多少？",
        "thanks": "谢谢反馈！",
        "no_more": "没有更多相关段落了。",
        "admin_only": "抱歉，只有编辑（管理员）可以使用这个功能。",
        "bad_type": "无法添加 {name}：只支持 {types} 文件。",
        "too_big": "无法添加 {name}：文件超过 20 MB。",
        "busy": "正在建索引，请稍后再试。提问不受影响。",
        "working": "正在处理 {name} …",
        "upload_failed": "没有添加 {name}：{why}\n当前索引未改变。",
        "job_failed": "没有完成：{why}\n当前索引未改变。",
        "job_done": "完成，现在使用第 {generation} 代索引。",
        "unknown": "不认识这个命令。发送 /help 查看用法。",
        "sorry": "抱歉，处理时出错了，请稍后再试。",
        "add_usage": "用法：/add 链接，例如 /add https://example.com/news/1.html",
        "link_failed": "没有添加 {url}：{why}\n当前索引未改变。",
        "follow_usage": "用法：/follow RSS或Atom订阅地址",
        "feed_failed": "没有订阅 {url}：{why}",
        "unfollowed": "已取消订阅 {url}（已添加的文章保留）。",
        "not_followed": "没有订阅 {url}。发送 /feeds 查看订阅。",
        "cancelling": "正在取消当前的索引任务，当前索引不会改变。",
        "stale_button": "这个按钮已失效，请重新提问。",
        "new": "好的，下一个问题从头开始，不接着上一个问题理解。",
        "not_your_vote": "只有提问的人可以评价这个回答。",
        "index_down": "抱歉，索引暂时不可用，已通知编辑处理。",
        "nothing_to_cancel": "现在没有正在进行的索引任务。",
        "remove_usage": "用法：/remove 文章ID（/articles 列出文章ID）",
        "stats": "第 {generation} 代索引：{articles} 篇文章，{passages} 段\n"
        "提问 {questions} 次，回答了 {answer_rate:.0%}，👍 {up} 👎 {down}，"
        "用时中位数 {p50:.0f} 毫秒，p95 {p95:.0f} 毫秒",
    },
    "en": {
        "quota": "Too many questions at once: please wait a minute.",
        "empty": "Please type a question.",
        "ask_usage": "Usage: /ask question, e.g. /ask How large is Zhuzhou's digital economy?",
        "thanks": "Thanks for the feedback!",
        "no_more": "No more related passages.",
        "admin_only": "Sorry, only editors (admins) can do that.",
        "bad_type": "Could not add {name}: only {types} files are supported.",
        "too_big": "Could not add {name}: the file is larger than 20 MB.",
        "busy": "An index build is running; try again shortly. Questions are still answered.",
        "working": "Working on {name} …",
        "upload_failed": "{name} was not added: {why}\nThe serving index is unchanged.",
        "job_failed": "Not done: {why}\nThe serving index is unchanged.",
        "job_done": "Done: now serving generation {generation}.",
        "unknown": "Unknown command. Send /help to see what I can do.",
        "sorry": "Sorry, something went wrong; please try again later.",
        "add_usage": "Usage: /add link, e.g. /add https://example.com/news/1.html",
        "link_failed": "{url} was not added: {why}\nThe serving index is unchanged.",
        "follow_usage": "Usage: /follow the address of an RSS or Atom feed",
        "feed_failed": "Not following {url}: {why}",
        "unfollowed": "No longer following {url} (its articles stay).",
        "not_followed": "{url} is not followed. /feeds lists the feeds.",
        "cancelling": "Cancelling the running index change; the serving index stays as it is.",
        "stale_button": "This button no longer works here; please ask again.",
        "new": "OK: your next question starts afresh, not as a follow-up.",
        "not_your_vote": "Only the reader who asked can rate this answer.",
        "index_down": "Sorry, the index is unavailable right now; the editors have been told.",
        "nothing_to_cancel": "No index change is running.",
        "remove_usage": "Usage: /remove article-id (/articles lists the ids)",
        "stats": "generation {generation}: {articles} articles, {passages} passages\n"
        "questions {questions}, answered {answer_rate:.0%}, 👍 {up} 👎 {down}, "
        "latency p50 {p50:.0f} ms, p95 {p95:.0f} ms",
    },
}


# the engine's messages reach editors in chat with the chat's commands in their hints
CHAT_HINTS = Hints(
    list_ids="/articles lists the ids",
    replace="send the file again with the caption `replace`, or `/add URL replace`",
    bring_back="send the file again to bring it back",
    rebuild="send /reindex to rebuild from the stored articles",
)


def t(key: str, lang: str) -> str:
    return _TEXTS.get(lang, _TEXTS["zh"])[key]


def help_text(lang: str, articles: Sequence[ArticleInfo]) -> str:
    known = "\n".join(f"• 《{escape(a.title)}》 {escape(a.date)}" for a in articles) or (
        "（暂无文章）" if lang == "zh" else "(no articles yet)"
    )
    if lang == "en":
        return (
            "<b>Shuzi · 数字</b> answers questions about these articles, quoting the sentence and "
            f"the figure it answers from, with citations:\n{known}\n\n"
            "Ask in a private chat by just writing, e.g. <i>How large is Zhuzhou's digital "
            "economy?</i> In groups use <code>/ask question</code>, mention me, or reply to one of "
            "my messages: under Telegram's default privacy mode bots do not see other group "
            "messages. Inline: type <code>@botname question</code> in any chat.\n"
            "When the articles do not say, I say so instead of guessing."
        )
    return (
        "<b>数字 Shuzi</b> 回答关于以下文章的问题，引用原句和数字，并注明出处：\n"
        f"{known}\n\n"
        "私聊时直接发送问题，例如：<i>株洲数字经济规模多少？</i>\n"
        "在群组中请用 <code>/ask 问题</code>、@我，或回复我的消息提问（按 Telegram 默认的隐私模式，"
        "机器人看不到群里的其他消息）。在任意聊天中输入 <code>@机器人名 问题</code> 可使用内联模式。\n"
        "文章没有提到的内容，我会直说，不会猜。"
    )


def upload_summary(lang: str, name: str, report: BuildReport, conflicts: Sequence[str]) -> str:
    if report.skipped and not (report.added or report.replaced):
        return (
            f"{name}: unchanged or a duplicate, skipped."
            if lang == "en"
            else f"{name}：内容未变或与已有文章重复，已跳过。"
        )
    lines = (
        [
            f"{name} added: {report.passages_added} passages, {report.figures_added} figures, "
            f"generation {report.generation}, {report.seconds:.1f} s."
        ]
        if lang == "en"
        else [
            f"已添加 {name}：{report.passages_added} 段，{report.figures_added} 个数字，"
            f"第 {report.generation} 代索引，用时 {report.seconds:.1f} 秒。"
        ]
    )
    if report.notes:
        lines.extend(report.notes)
    if conflicts:
        lines.append(
            "Figures that differ from indexed ones:" if lang == "en" else "与已有数字不同的指标："
        )
        lines.extend(conflicts)
    return "\n".join(lines)


def followed(
    lang: str, title: str, url: str, added: Sequence[str], problems: Sequence[str], minutes: float
) -> str:
    titles = "\n".join(f"• {a}" for a in added[:20])
    if lang == "en":
        head = (
            f"Following {title} ({url}): {len(added)} articles added; read every {minutes:g} min."
        )
        tail = (
            f"\n{len(problems)} items could not be fetched (tried again later)." if problems else ""
        )
    else:
        head = f"已订阅 {title}（{url}）：添加了 {len(added)} 篇文章，每 {minutes:g} 分钟检查一次。"
        tail = f"\n{len(problems)} 篇暂时无法获取，稍后重试。" if problems else ""
    return head + (f"\n{titles}" if titles else "") + tail


def feed_list(lang: str, feeds: Sequence[Feed]) -> str:
    if not feeds:
        return "No feeds are followed." if lang == "en" else "还没有订阅任何源。"
    lines = []
    for f in feeds:
        state = (
            (
                f"failing ({f.failures}×): {f.last_error}"
                if lang == "en"
                else f"失败{f.failures}次：{f.last_error}"
            )
            if f.failures
            else ("ok" if lang == "en" else "正常")
        )
        lines.append(f"• {f.title or f.url} — {f.url} — {state}")
    return "\n".join(lines)


def feed_problem(lang: str, url: str, why: str, failures: int, wait_s: float) -> str:
    minutes = wait_s / 60
    if lang == "en":
        return f"Feed {url} failed ({failures} in a row): {why}. Next try in {minutes:.0f} min."
    return f"订阅源 {url} 读取失败（连续 {failures} 次）：{why}。{minutes:.0f} 分钟后重试。"


def digest(lang: str, added: Sequence[tuple[str, str, str]]) -> str:
    lines = [f"• {title or link} — {link}" for _, title, link in added[:50]]
    head = (
        f"Added from feeds since the last digest: {len(added)} articles"
        if lang == "en"
        else f"上次汇总以来从订阅源添加了 {len(added)} 篇文章："
    )
    return "\n".join([head, *lines])
