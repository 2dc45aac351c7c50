"""`pdlib report`: a page per examination a clinician opens from disk, and cohort.csv (pdlib.report, report_pages,
notebook 07), on a copy of tests/explorer_fixture.py's fake `smoke` run (tiny TSA models, four examinations of
finger and hand, no keypoints). The browser check needs Debian's chromium (`make browser`); it is skipped with that
message when /usr/bin/chromium is missing."""

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from test_scoring import real_features

from pdlib.cli import main as cli_main
from pdlib.layout import Layout
from pdlib.report import NEEDS_RATER, call_text

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
BROKEN = "videos/finger_E1_R.mp4"  # made unusable: its examination's page names it and still renders


@pytest.fixture(scope="module")
def reported(explorer_outputs, tmp_path_factory):
    """`pdlib report DATASET --profile smoke` on a copy of the fake run whose dataset has one broken video: the
    output folder, the command's exit code and what it printed."""
    root = tmp_path_factory.mktemp("report")
    outputs = Path(shutil.copytree(explorer_outputs, root / "outputs"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PDLIB_OUTPUTS", str(outputs))
        mp.setattr("pdlib.jobs.default_workers", lambda: 1)  # decode here: a spawned worker re-imports torch
        layout = Layout("smoke", outputs=outputs)
        real_features(layout)  # the examination level needs the features of the fixture's own task models
        data = layout.synth_dir("synpd")
        (data / BROKEN).write_bytes(b"not a video" * 10)
        code = cli_main(["report", str(data), "--profile", "smoke", "--out", str(root / "reports")])
    return root / "reports", code


def test_a_dataset_is_scored_and_gets_one_page_per_examination_and_cohort_csv(reported):
    out, code = reported
    assert code == 0
    assert sorted(p.name for p in out.glob("*.html")) == ["E0.html", "E1.html", "E2.html", "E3.html"]
    cohort = pd.read_csv(out / "cohort.csv", keep_default_na=False)
    assert cohort["exam"].tolist() == ["E0", "E1", "E2", "E3"]
    assert cohort["patient"].tolist() == ["P0", "P1", "P2", "P3"]
    assert cohort["page"].tolist() == [f"E{i}.html" for i in range(4)] and set(cohort["condition"]) == {"OFF"}
    assert {"finger_L_p_severe", "finger_L_call", "finger_L_item_score", "hand_R_call", "examination_call",
            "examination_set", "unusable"} <= set(cohort.columns)
    assert cohort.loc[1, "finger_R_call"] == "unusable" and BROKEN in cohort.loc[1, "unusable"]
    assert set(cohort["finger_L_call"]) <= {"slight", "severe", "abstain"}
    assert set(cohort["examination_call"]) <= {"slight", "moderate", "severe", "abstain"}
    scores = pd.read_csv(out / "scores.csv", keep_default_na=False)  # the scores the pages were made from
    assert set(scores.loc[scores["video"] != "", "exam"]) == {"E0", "E1", "E2", "E3"}
    html = (out / "E1.html").read_text()
    assert "<script" not in html and "def " not in html and "ExamPage" not in html  # no code, nothing fetched
    assert html.count("data:image/png;base64,") >= 3


def test_a_page_opens_from_disk_in_chromium_with_every_image_and_the_calls(reported, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("Chromium not installed: run `make browser` (apt-get install chromium) for the browser test")
    from playwright.sync_api import sync_playwright

    out, _ = reported
    cohort = pd.read_csv(out / "cohort.csv", keep_default_na=False).set_index("exam")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            texts, images = {}, {}
            for exam in ("E0", "E1"):
                page.goto((out / f"{exam}.html").resolve().as_uri(), wait_until="load")
                images[exam] = page.evaluate("() => [...document.images].map(i => i.complete ? i.naturalWidth : 0)")
                texts[exam] = page.inner_text("body")
            page.screenshot(path=str(tmp_path / "E1.png"), full_page=True)
        finally:
            browser.close()
    for exam, widths in images.items():
        assert len(widths) >= 3 and min(widths) > 0, f"{exam}: images that did not load: {widths}"
    for exam, text in texts.items():
        row = cohort.loc[exam]
        assert f"Examination {exam}" in text and f"Patient {row['patient']}" in text
        for task in ("finger", "hand"):
            for side in "LR":
                if row[f"{task}_{side}_call"] != "unusable":
                    assert call_text(row[f"{task}_{side}_call"]) in text
        assert call_text(row["examination_call"]) in text and "not a diagnosis" in text
    assert NEEDS_RATER in texts["E0"] + texts["E1"]
    assert f"{BROKEN} (right): unusable video: cannot open as a video container" in texts["E1"]
    assert "no keypoints for this video" in texts["E1"]


@pytest.mark.parametrize("args, message", [
    (["{empty}", "--profile", "smoke"], "{empty}: neither a `pdlib score` output (scores.csv, scores.json) nor a "
                                        "dataset folder (videos.csv)"),
    (["{empty}", "--profile", "nosuchprofile"], "unknown profile 'nosuchprofile'"),
    (["{empty}/missing", "--profile", "smoke"], "{empty}/missing: no such file or folder"),
])
def test_bad_input_is_one_line_and_exit_2(args, message, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PDLIB_OUTPUTS", str(tmp_path / "outputs"))
    empty = tmp_path / "empty"
    empty.mkdir()
    code = cli_main(["report", *(a.format(empty=empty) for a in args)])
    out, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in out + err
    assert err.strip().startswith(f"pdlib report: error: {message.format(empty=empty)}") and "\n" not in err.strip()
    assert not os.listdir(empty)


def test_the_explorer_score_tab_finds_the_page_of_a_scored_videos_examination(reported):
    from pdlib.explorer import ExplorerState

    out, _ = reported
    outputs = out.parent / "outputs"
    video = Layout("smoke", outputs=outputs).synth_dir("synpd") / "videos" / "hand_E2_L.mp4"
    state = ExplorerState("smoke", root=outputs)
    assert state.report_page(str(video)) is None  # no report in the run's reports/ yet
    shutil.copytree(out, outputs / "smoke" / "reports")
    assert state.report_page(f" {video} ") == outputs / "smoke" / "reports" / "E2.html"
    assert state.report_page(str(out / "elsewhere.mp4")) is None
