"""`pdlib report`: one self-contained HTML page per examination and `cohort.csv`, built the Jupyter way.

Notebook 07 (`notebooks/07_report.ipynb`) is parameterised per examination by papermill
(`parameterize_notebook`), executed by nbclient in one kernel reused for every page (a fresh kernel costs seconds
of imports per page; every cell assigns what it uses, so nothing leaks from one page to the next) with
`pdlib.run`'s kernel options, and converted by nbconvert's HTMLExporter without its code cells: the figures are
PNGs embedded in the page (base64), which opens from disk in any browser, with no server and no script from the
network (the template `lab` with its script blocks emptied: require.js, MathJax and Mermaid are not needed).
"""

from __future__ import annotations

import copy
import re
import sys
import time
from pathlib import Path

import jinja2
import pandas as pd

from pdlib import progress as progress_env
from pdlib.layout import Layout
from pdlib.params import profiles
from pdlib.paths import repo_root
from pdlib.report import ReportError, cohort_table, exam_ids, read_scores, scores_file
from pdlib.tasks import DEFAULT_COVERAGE, DEFAULT_SETTING

NOTEBOOK = "07_report.ipynb"
PAGES = "pages.csv"  # each scored video file's examination page (the explorer's score tab links to it)
HIDDEN = "remove-cell"  # the tag of notebook cells that are not part of the page (the notebook's own description)
# nbconvert's lab template, less the scripts it would fetch from the network (none is needed by a page of images)
TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


def page_name(exam: str) -> str:
    """The page's file name: the examination id, other characters than letters, digits, '.', '-' as '_'."""
    return re.sub(r"[^\w.-]", "_", exam) + ".html"


def video_pages(scores, pages: dict[str, tuple[str, float, str]]) -> pd.DataFrame:
    """pages.csv: per scored video, its file (absolute), examination and page (the pages written)."""

    from pdlib.report import exam_rows

    rows = [(str(scores.video_file(v).resolve()), exam, pages[exam][0]) for exam in pages if pages[exam][0]
            for v in exam_rows(scores, exam)["video"] if v]
    return pd.DataFrame(rows, columns=["file", "exam", "page"])


def page_of(video: str | Path, reports: Path) -> Path | None:
    """The report page of the examination of `video` in `reports` (a `pdlib report` folder), if one was written."""
    import pandas as pd

    index = reports / PAGES
    if not index.is_file():
        return None
    table = pd.read_csv(index, dtype=str, keep_default_na=False)
    hit = table[table["file"] == str(Path(video).resolve())]
    return reports / hit["page"].iloc[0] if len(hit) and (reports / hit["page"].iloc[0]).is_file() else None


def html_exporter():
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter = HTMLExporter(template_name="lab", template_file="pdlib_report.html.j2", exclude_input=True,
                            exclude_input_prompt=True, exclude_output_prompt=True,
                            extra_loaders=[jinja2.DictLoader({"pdlib_report.html.j2": TEMPLATE})])
    exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags={HIDDEN}), enabled=True)
    return exporter


PRELOAD = "import pdlib.report, pdlib.report_figures, pdlib.plots, pdlib.attention_figures, pdlib.models"


def start_kernel(root: Path):
    """nbclient's client of notebook 07 with its kernel process started (not waited for): it boots and imports the
    report's modules (`PRELOAD`, before it says it is ready) while this process scores a dataset."""
    from nbclient import NotebookClient
    from papermill.iorw import load_notebook_node

    from pdlib.run import _kernel_options

    template = load_notebook_node(str(root / "notebooks" / NOTEBOOK))  # every cell with its tags, as papermill reads
    options = _kernel_options()
    options["extra_arguments"] = [*options["extra_arguments"], f"--IPKernelApp.exec_lines={PRELOAD}"]
    client = NotebookClient(template, kernel_name="python3", timeout=600, **options)
    client.km = client.create_kernel_manager()
    client.start_new_kernel(cwd=str(root))
    return client


def write_pages(client, scores: Path, exams: list[str], profile: str, out: Path,
                say=print) -> dict[str, tuple[str, float, str]]:
    """Execute notebook 07 (`client`'s, from `start_kernel`) for each examination in its one kernel and write
    `<out>/<exam>.html`: {exam: (file name, seconds, error ("" when the page was written))}. Shuts the kernel down."""
    from nbclient.exceptions import CellExecutionError
    from papermill.parameterize import parameterize_notebook

    exporter, done, template = html_exporter(), {}, client.nb
    with client.setup_kernel():
        for exam in exams:
            t0 = time.perf_counter()
            nb = parameterize_notebook(copy.deepcopy(template), {"profile": profile, "scores": str(scores),
                                                                 "exam": exam}, kernel_name="python3")
            client.nb = nb
            client.reset_execution_trackers()
            try:
                for i, cell in enumerate(nb.cells):
                    client.execute_cell(cell, i, execution_count=client.code_cells_executed + 1)
            except CellExecutionError as err:
                lines = [line for line in str(err).strip().splitlines() if line.strip()]
                done[exam] = ("", time.perf_counter() - t0, lines[-1] if lines else "failed")
                say(f"  {exam}: no page: {done[exam][2]}")
                continue
            html, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": f"Examination {exam}"}})
            (out / page_name(exam)).write_text(html, encoding="utf-8")
            done[exam] = (page_name(exam), time.perf_counter() - t0, "")
    return done


def report_main(source: str, profile: str = "default", out: str | Path | None = None) -> int:
    """`pdlib report`: the pages of every examination of `source` (a `pdlib score` output: scores.csv,
    scores.json or their folder; or a dataset folder, scored first as `pdlib score` does) and cohort.csv in `out`
    (default the run's `reports/`). 0: every page written; 1: some examinations without a page (named);
    2 (a ReportError, ScoreError or DatasetError, said in one line): nothing to report."""
    from pdlib.run import _environment
    from pdlib.scoring.request import run_dataset

    if profile not in profiles() and not Layout(profile).base.is_dir():
        raise ReportError(f"unknown profile {profile!r}: no params/{profile}.yaml and no run in "
                          f"{Layout(profile).base} (profiles: {', '.join(profiles())})")
    layout = Layout(profile, run_dataset(profile))
    src = Path(source)
    if not src.exists():
        raise ReportError(f"{src}: no such file or folder")
    dataset = src.is_dir() and (src / "videos.csv").is_file()
    if not dataset:
        try:
            src = scores_file(src)
        except ReportError:
            raise ReportError(f"{src}: neither a `pdlib score` output (scores.csv, scores.json) nor a dataset "
                              f"folder (videos.csv)") from None
    out = Path(out) if out else layout.dir("reports")
    out.mkdir(parents=True, exist_ok=True)
    root = repo_root().resolve()
    with _environment({"PDLIB_ROOT": str(root), progress_env.ENV: progress_env.OFF, "PDLIB_NOTEBOOK": NOTEBOOK[:-6]}):
        client = start_kernel(root)
        try:
            scores = _scores(src, layout, profile, out) if dataset else read_scores(src, layout)
        except BaseException:
            client._cleanup_kernel()  # nbclient's own shutdown of the kernel it started
            raise
        exams = exam_ids(scores)
        print(f"{len(exams)} examination{'s' if len(exams) != 1 else ''} of {scores.file}: pages in {out}",
              file=sys.stderr)
        t0 = time.perf_counter()
        pages = write_pages(client, scores.file.resolve(), exams, profile, out)
        seconds = time.perf_counter() - t0
    cohort = cohort_table(scores, {e: p for e, (p, _, err) in pages.items() if not err})
    cohort.to_csv(out / "cohort.csv", index=False)
    video_pages(scores, pages).to_csv(out / PAGES, index=False)
    failed = {e: err for e, (_, _, err) in pages.items() if err}
    written = len(pages) - len(failed)
    print(f"{written} page{'s' if written != 1 else ''} in {seconds:.1f} s ({seconds / max(len(pages), 1):.1f} s "
          f"per examination) and {out / 'cohort.csv'}")
    for exam, err in failed.items():
        print(f"  no page for {exam}: {err}")
    return 1 if failed else 0


def _scores(src: Path, layout: Layout, profile: str, out: Path):
    """A dataset folder scored as `pdlib score` does, into `out` (scores.csv, scores.json naming the dataset)."""
    from pdlib.params import load_params
    from pdlib.scoring import meta_of, score_request, write_scores

    setting = load_params(profile).get("setting", DEFAULT_SETTING) if profile in profiles() else DEFAULT_SETTING
    scored, used = score_request([str(src)], layout, setting, coverage=DEFAULT_COVERAGE)
    meta = meta_of(used, DEFAULT_COVERAGE) if used else {"profile": profile, "setting": setting,
                                                          "coverage": DEFAULT_COVERAGE}
    file, _ = write_scores(scored, out, meta | {"dataset": str(src.resolve()),
                                                "kinematics": scored.attrs.get("kinematics", {})})
    return read_scores(file, layout)
