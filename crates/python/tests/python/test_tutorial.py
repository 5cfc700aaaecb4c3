"""docs/python.md runs as written: its tutorial blocks in order as one
script, then its survey script (the block that starts with `# survey.py`)
as a file of its own, as the text says to run it."""

import os
import re
import subprocess
import sys

from conftest import REPO


def run(script, cwd):
    out = subprocess.run([sys.executable, str(script)], cwd=cwd, capture_output=True, text=True, env={**os.environ, "MPLBACKEND": "Agg"})
    assert out.returncode == 0, out.stderr[-4000:]
    return out.stdout


def test_tutorial_runs_as_written(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "docs" / "python.md").read_text(), flags=re.S)
    survey = [b for b in blocks if b.startswith("# survey.py")]
    tutorial = [b for b in blocks if not b.startswith("# survey.py")]
    assert len(tutorial) >= 5 and len(survey) == 1, "the tutorial's code blocks were not found"
    (tmp_path / "tutorial.py").write_text("\n".join(tutorial))
    run(tmp_path / "tutorial.py", tmp_path)
    for name in ("render.png", "batch.png", "reconstruction.png"):
        assert (tmp_path / name).stat().st_size > 10_000, name
    (tmp_path / "survey.py").write_text(survey[0])
    run(tmp_path / "survey.py", tmp_path)
    assert len(list((tmp_path / "survey").glob("*/result.json"))) == 3
    summary = (tmp_path / "survey" / "summary.csv").read_text().splitlines()
    assert len(summary) == 4 and all(line.endswith(",") for line in summary[1:]), summary
