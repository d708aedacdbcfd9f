"""README's Python snippets run as written (those not marked as not run)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
#: A fenced Python block, and the HTML comment that may precede it.
SNIPPET = re.compile(r"(<!-- not run: [^>]*-->\s*)?```python\n(.*?)```", re.DOTALL)


def _snippets():
    """Runnable snippets, by line; those marked "not run" say why beside them."""
    text = README.read_text()
    for match in SNIPPET.finditer(text):
        if match.group(1) is None:
            line = text[: match.start(2)].count("\n") + 1
            yield pytest.param(match.group(2), id=f"line {line}")


def test_most_readme_snippets_run():
    text = README.read_text()
    assert len(list(_snippets())) >= len(SNIPPET.findall(text)) - 2


#: What the every-run test shortens in the Quick start (a minute as written):
#: fewer epochs and candidates, the same calls. ``-m readme_in_full`` (run by
#: ``.ci/run``) runs every snippet as written.
SHORTER = {
    "epochs=8": "epochs=1",
    '"cnn__epochs": [4, 8]': '"cnn__epochs": [1]',
    '"cnn__model__filters": [16, 32]': '"cnn__model__filters": [4]',
}


def _run(code, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})
    printed = capsys.readouterr().out
    if "print(" in code:
        assert printed.strip()


@pytest.mark.parametrize("code", list(_snippets()))
def test_readme_snippet_runs_shortened(code, tmp_path, monkeypatch, capsys):
    for written, shorter in SHORTER.items():
        code = code.replace(written, shorter)
    _run(code, tmp_path, monkeypatch, capsys)


def test_the_shortening_still_matches_the_readme():
    text = README.read_text()
    assert [written for written in SHORTER if written not in text] == []


@pytest.mark.readme_in_full
@pytest.mark.parametrize("code", list(_snippets()))
def test_readme_snippet_runs_as_written(code, tmp_path, monkeypatch, capsys):
    _run(code, tmp_path, monkeypatch, capsys)
