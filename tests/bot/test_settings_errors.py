"""Wrong settings are one line naming the SHUZI_ variable, its value and what is allowed."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from bot.cli import app


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("SHUZI_STORE", "nonsense", "'local' or 'milvus'"),
        ("SHUZI_TOP_K", "abc", "valid integer"),
        ("SHUZI_ADMIN_IDS", "abc", "user ids are numbers"),
        ("SHUZI_READER", "maybe", "'on' or 'off'"),
    ],
)
def test_a_bad_setting_is_one_line(tmp_path, variable, value, says):
    result = CliRunner().invoke(
        app, ["index", "list"], env={variable: value, "SHUZI_DATA_DIR": str(tmp_path)}
    )
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"error: {variable}='{value}'") and says in lines[0]


def test_a_data_dir_that_cannot_be_made_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = CliRunner().invoke(
        app, ["articles", "list"], env={"SHUZI_DATA_DIR": str(blocker / "data")}
    )
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1 and "cannot be" in result.output
