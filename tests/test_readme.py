"""The README's headline numbers are those a run recorded in benchmarks/RESULTS.md (both printed by
`benchmarks/check_targets.py --markdown`), and the README names no other test count or smoke time."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"<!-- headline: begin -->\n(.*?)\n<!-- headline: end -->", re.S)


def _headline(path: Path) -> str:
    found = BLOCK.findall(path.read_text())
    assert len(found) == 1, f"{path.name}: expected one headline block, found {len(found)}"
    return found[0]


def test_the_readme_headline_table_is_the_recorded_run():
    readme, results = _headline(ROOT / "README.md"), _headline(ROOT / "benchmarks" / "RESULTS.md")
    table = [line for line in readme.splitlines() if line.startswith("|")]
    assert len(table) >= 9 and table[0].startswith("| finding | the study | this suite, default profile |")
    assert readme == results
    numbers = re.findall(r"-?\d+\.\d+", readme)
    assert len(numbers) >= 20  # the figures themselves, not a placeholder


def test_the_readme_quotes_timings_and_counts_only_from_results():
    readme = (ROOT / "README.md").read_text()
    assert not re.search(r"\b\d+ tests\b", readme), "test counts drift: RESULTS.md records them"
