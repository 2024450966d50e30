"""Planning a change to the index: a pure function, tested without a model or a folder."""

from __future__ import annotations

from index.plan import plan_changes
from tests.conftest import make_article

A = make_article("a", "株洲数字经济规模1118亿元。")
A2 = make_article("a", "株洲数字经济规模1200亿元。")
B = make_article("b", "青石市共有灯塔17座。")
B_COPY = make_article("b-copy", "青石市共有灯塔17座。")


def test_new_articles_are_added_and_a_build_afresh_adds_everything():
    plan = plan_changes({}, add=[A, B])
    assert plan.added == ("a", "b") and plan.todo == (A, B) and plan.changes


def test_unchanged_and_duplicate_articles_are_skipped():
    held = {"a": A.content_hash, "b": B.content_hash}
    plan = plan_changes(held, add=[A, B_COPY])
    assert plan.skipped == ("a", "b-copy") and plan.todo == () and not plan.changes


def test_changed_text_replaces_and_removal_takes_out_only_what_is_held():
    held = {"a": A.content_hash, "b": B.content_hash}
    plan = plan_changes(held, add=[A2], remove=["b", "b", "nowhere"])
    assert plan.removed == ("b",) and plan.replaced == ("a",) and plan.todo == (A2,)
    assert plan.take_out == ("b", "a")


def test_a_removed_articles_text_may_come_back_under_another_id():
    plan = plan_changes({"b": B.content_hash}, add=[B_COPY], remove=["b"])
    assert plan.removed == ("b",) and plan.added == ("b-copy",)


def test_of_two_articles_with_one_text_the_first_wins():
    plan = plan_changes({}, add=[B, B_COPY])
    assert plan.added == ("b",) and plan.skipped == ("b-copy",)
