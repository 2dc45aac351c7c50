"""Attention explorer: the TSA attention of trained task models (Sec. III-B) and task weights (Sec. III-C).

`AttentionExplorer` wires ipywidgets 8 controls over an `ExplorerState` (`pdlib.explorer`: the run's models,
clips and attention, without widgets, tested in Python) to matplotlib views rendered as PNG images, which work
alike in JupyterLab and in a Voilà page. `build_explorer` is the notebook's one call. The attention maths lives
in `pdlib.attention`, its figures in `pdlib.attention_figures`.
"""

from __future__ import annotations

import html
import io
import os
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs

import ipywidgets as widgets
import pandas as pd
from matplotlib.figure import Figure

from pdlib.attention import (
    AttentionView,
    ClipAttention,
    ExplorerError,
    attention_view,
    describe,
    longest_layer,
    one_step_note,
)
from pdlib.attention_figures import crop_figure, filmstrip_figure, matrix_figure, weights_figure
from pdlib.explorer import ExplorerState
from pdlib.tasks import DEFAULT_SETTING, ITEMS, TASK_CLASSES

__all__ = ["AttentionExplorer", "ExplorerState", "build_explorer", "url_parameters"]


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


class AttentionExplorer:
    """The ipywidgets 8 app over an ExplorerState: controls on the left, views of the chosen clip on the right.

    `widget` is the root to display. Controls: task, fold, video (the fold's test videos, labelled by
    examination and side), TSA layer, head (or their mean), position (h, w) on the layer's grid (or the mean);
    a button adds the task weights of the video's examination.
    """

    def __init__(self, state: ExplorerState):
        self.state = state
        self._quiet = 0
        self._weights_on = False
        style, wide = {"description_width": "90px"}, widgets.Layout(width="330px")
        self.task = widgets.Dropdown(description="Task", options=state.tasks, style=style, layout=wide)
        self.fold = widgets.Dropdown(description="Fold", style=style, layout=wide)
        self.video = widgets.Dropdown(description="Video", style=style, layout=wide)
        self.layer = widgets.Dropdown(description="TSA layer", style=style, layout=wide)
        self.head = widgets.Dropdown(description="Head", style=style, layout=wide)
        self.average = widgets.Checkbox(value=True, description="Average over positions", indent=False)
        self.row = widgets.IntSlider(description="Row (h)", style=style, layout=wide, disabled=True)
        self.col = widgets.IntSlider(description="Column (w)", style=style, layout=wide, disabled=True)
        self.status, self.info = widgets.HTML(), widgets.HTML()
        self.matrix, self.filmstrip = widgets.Image(format="png"), widgets.Image(format="png")
        self.crop = widgets.Image(format="png")  # the box the clip was cut from, for models trained on crops
        self.crop.layout.display = "none"
        self.weights_button = widgets.Button(description="Show task weights", icon="balance-scale")
        self.weights_note = widgets.HTML("The task weights of this examination under the pixel-wise attention head, "
                                         "and the global weights of vector weighting (Sec. III-C).")
        self.weights_image = widgets.Image(format="png")
        for control, name in ((self.head, "head"), (self.matrix, "attention-matrix"), (self.filmstrip, "filmstrip"),
                              (self.crop, "crop")):
            control.add_class(f"pdlib-{name}")
        controls = widgets.VBox([widgets.HTML("<b>Choose a clip</b>"), self.task, self.fold, self.video,
                                 widgets.HTML("<b>Choose the attention</b>"), self.layer, self.head, self.average,
                                 self.row, self.col, self.status], layout=widgets.Layout(width="350px"))
        weights = widgets.Accordion([widgets.VBox([self.weights_button, self.weights_note, self.weights_image])],
                                    titles=("Task weights for assembling the examination",))
        explore = widgets.VBox([widgets.HBox([controls, widgets.VBox([self.info, widgets.HBox([self.matrix,
                                                                                                self.crop])])]),
                                self.filmstrip, weights])
        self.score_path = widgets.Text(description="Video", placeholder="/path/to/a/new/video.mp4", style=style,
                                       layout=widgets.Layout(width="560px"))
        self.score_task = widgets.Dropdown(description="Task", options=state.tasks, style=style, layout=wide)
        self.score_button = widgets.Button(description="Score", icon="play")
        self.score_result, self.score_filmstrip = widgets.HTML(), widgets.Image(format="png")
        self.score_signal, self.score_signal_note = widgets.Image(format="png"), widgets.HTML()
        self.score_signal.layout.display = "none"  # shown only when the scored video has keypoints
        for control, name in ((self.score_path, "score-path"), (self.score_button, "score-button"),
                              (self.score_result, "score-result")):
            control.add_class(f"pdlib-{name}")
        score = widgets.VBox([widgets.HTML("Score a video of your own with this setting's fold models (as "
                                           "<code>pdlib score</code> does): the ensemble's probability, the call "
                                           "or <i>abstain</i> at 90% coverage, and where in time the first fold's "
                                           "model looks. Research outputs, not a diagnosis."),
                              self.score_path, widgets.HBox([self.score_task, self.score_button]),
                              self.score_result, self.score_filmstrip, self.score_signal_note, self.score_signal])
        self.widget = widgets.Tab([explore, score], titles=("Explore test videos", "Score a video"))
        self.widget.add_class("pdlib-explorer")
        self.task.observe(self._on_task, "value")
        self.fold.observe(self._on_fold, "value")
        self.video.observe(self._on_video, "value")
        self.layer.observe(self._on_layer, "value")
        for control in (self.head, self.average, self.row, self.col):
            control.observe(self._on_view, "value")
        self.weights_button.on_click(self._on_weights)
        self.score_button.on_click(self._on_score)
        self._on_task()

    def current_clip(self) -> ClipAttention:
        """The clip the controls select."""
        return self.state.clip(self.task.value, self.fold.value, self.video.value)

    def current_view(self) -> AttentionView:
        """The attention view the controls select."""
        head = None if self.head.value == -1 else self.head.value
        position = None if self.average.value else (self.row.value, self.col.value)
        return self.state.view(self.task.value, self.fold.value, self.video.value, self.layer.value, head,
                               position)

    @contextmanager
    def _silent(self):
        """Changes controls without firing the observers (the caller refreshes what depends on them)."""
        self._quiet += 1
        try:
            yield
        finally:
            self._quiet -= 1

    def _set_options(self, control: widgets.Dropdown, options: list) -> None:
        """New options; keeps the current value when it is still one of them, else takes the first."""
        with self._silent():
            keep = control.value
            control.options = options
            values = [o[1] if isinstance(o, tuple) else o for o in options]
            control.value = keep if keep in values else values[0]

    def _report(self, message: str, error: bool = False) -> None:
        self.status.value = f"<span style='color:{'#b00020' if error else '#555'}'>{message}</span>"

    def _on_task(self, change=None) -> None:
        if not self._quiet:
            self._set_options(self.fold, self.state.folds(self.task.value))
            self._on_fold()

    def _on_fold(self, change=None) -> None:
        if not self._quiet:
            rows = self.state.videos(self.task.value, self.fold.value)
            self._set_options(self.video, [(f"{r.exam} · {r.side or '-'} · {Path(r.video).name}", r.video)
                                           for r in rows.itertuples()])
            self._on_video()

    def _on_video(self, change=None) -> None:
        if self._quiet:
            return
        self._report("Computing attention…")
        try:
            clip = self.current_clip()
        except ExplorerError as err:
            self._report(str(err), error=True)
            self.matrix.value = self.filmstrip.value = b""
            return
        self.info.value = self._info_html(clip)
        self._show_crop()
        self._set_options(self.layer, list(clip.attention))
        self._on_layer()
        if self._weights_on:
            self._show_weights()

    def _show_crop(self) -> None:
        """The frame with the box the clip was cut from, when the models were trained on crops."""
        task, fold, video = self.task.value, self.fold.value, self.video.value
        try:
            shown = self.state.crop(task, fold, video)
        except ExplorerError as err:
            self._report(str(err), error=True)
            shown = None
        self.crop.layout.display = "none" if shown is None else None
        if shown is not None:
            frame, box, note = shown
            self.crop.value = _png(crop_figure(frame, box, note, f"{video}: the clip is the boxed part"))

    def _on_layer(self, change=None) -> None:
        if self._quiet:
            return
        heads, h_dim, w_dim = self.current_clip().attention[self.layer.value].shape[:3]
        self._set_options(self.head, [("mean of heads", -1)] + [(f"head {i}", i) for i in range(heads)])
        with self._silent():
            self.row.max, self.col.max = h_dim - 1, w_dim - 1
        self._on_view()

    def _on_view(self, change=None) -> None:
        if self._quiet:
            return
        self.row.disabled = self.col.disabled = self.average.value
        clip, view = self.current_clip(), self.current_view()
        self.matrix.value = _png(matrix_figure(view, len(clip.frames)))
        self.filmstrip.value = _png(filmstrip_figure(clip, view))
        self._report(f"Showing {describe(view)}. {one_step_note(view, len(clip.frames))}".strip())

    def _on_weights(self, button=None) -> None:
        self._weights_on = True
        self._show_weights()

    def _show_weights(self) -> None:
        clip = self.current_clip()
        self.weights_note.value = f"Loading the assembling heads notebook 04 saved for fold {clip.fold}…"
        try:
            weights = self.state.task_weights(clip.fold, clip.exam)
        except ExplorerError as err:
            self.weights_note.value = f"<span style='color:#b00020'>{err}</span>"
            self.weights_image.value = b""
            return
        self.weights_image.value = _png(weights_figure(weights))
        self.weights_note.value = f"Examination {weights.exam}; heads {weights.source}."

    def _on_score(self, button=None) -> None:
        self.score_result.value = "Scoring…"
        try:
            row, clip = self.state.score(self.score_path.value, self.score_task.value)
        except ExplorerError as err:
            self.score_result.value = f"<span style='color:#b00020'>{err}</span>"
            self.score_filmstrip.value = b""
            return
        call = "abstain: both classes stay possible at 90% coverage" if row["call"] == "abstain" else row["call"]
        self.score_result.value = (f"<b>{ITEMS.get(clip.task, clip.task)}</b>, {clip.video}<br>"
                                   f"P(severe) = <b>{row['prob_1']:.2f}</b> (mean of the fold models, spread "
                                   f"{row['spread']:.2f}); call: <b>{call}</b>")
        page = self.state.report_page(self.score_path.value)
        if page is not None:  # a file:// link: opened from disk (a browser may ask to copy it into the address bar)
            self.score_result.value += (f"<br>The report page of its examination: <a href='{page.as_uri()}' "
                                        f"target='_blank'>{html.escape(str(page))}</a>")
        self.score_filmstrip.value = (_png(filmstrip_figure(clip, attention_view(clip, longest_layer(clip))))
                                      if clip.attention else b"")
        self._show_signal(self.score_path.value, clip.task)

    def _show_signal(self, path: str, task: str) -> None:
        """The scored video's kinematic signal (`plots.kinematics_signal`) when it has keypoints (beside it, or
        `pdlib track`'s in the run's cache), else a line saying how to get them."""
        from pdlib.kinematics import KinematicsError
        from pdlib.landmarks import load_keypoints
        from pdlib.plots import kinematics_signal
        from pdlib.tracking import keypoint_files

        file = keypoint_files(pd.DataFrame({"path": [path], "task": [task]}), self.state.layout.cache_dir)[0]
        self.score_signal.value, self.score_signal.layout.display = b"", "none"
        if file is None:
            self.score_signal_note.value = ("No keypoints for this video: <code>pdlib track</code> its dataset "
                                            "to see its movement.")
            return
        try:
            figure = kinematics_signal(load_keypoints(file, task, ""), task)
        except KinematicsError as err:
            self.score_signal_note.value = f"Its movement cannot be drawn: {html.escape(str(err))}"
            return
        self.score_signal_note.value = "The movement, from its keypoints:"
        self.score_signal.value, self.score_signal.layout.display = _png(figure), ""

    @staticmethod
    def _info_html(clip: ClipAttention) -> str:
        verdict = "correct" if clip.pred == clip.label else "wrong"
        side = f", side {clip.side}" if clip.side else ""
        return (f"<b>{ITEMS.get(clip.task, clip.task)}</b>, examination {clip.exam}{side}, patient {clip.patient}"
                f"<br>Label: <b>{TASK_CLASSES[clip.label]}</b><br>"
                f"Model of fold {clip.fold} (never trained on this patient): <b>{TASK_CLASSES[clip.pred]}</b>, "
                f"probability of severe {clip.prob:.2f} ({verdict})")


def url_parameters(**defaults: str) -> dict[str, str]:
    """The notebook's parameters, each replaced by the same-named key of a Voilà page's URL query, if given.

    Voilà hands the kernel the page's query string ($QUERY_STRING), so
    `http://localhost:8866/?profile=default&setting=i3d_synact` opens the explorer on another profile without
    editing the notebook; keys the notebook does not declare are ignored. Outside Voilà: the defaults.
    """
    query = parse_qs(os.environ.get("QUERY_STRING", ""))
    return {key: query[key][-1] if key in query else value for key, value in defaults.items()}


def build_explorer(profile: str, setting: str = DEFAULT_SETTING, root: str | Path | None = None,
                   dataset: str = "") -> widgets.Widget:
    """The attention explorer of `<root>/<profile>` for one model setting (notebooks/attention_explorer).

    root: the outputs folder (default `outputs/`, or $PDLIB_OUTPUTS); dataset: the dataset folder the models
    were trained on (empty: the profile's SynPD); the clips' shape and sampling come from the models' saved
    config. Returns the app's root widget, or a
    message widget that names the notebook to run when there are no trained TSA models.
    """
    state = ExplorerState(profile, setting, root, dataset)
    try:
        state.check()
    except ExplorerError as err:
        message = widgets.HTML(f"<div style='padding:1em;border:1px solid #d99;background:#fff4f4'>"
                               f"<b>Nothing to explore yet.</b><br>{err}</div>")
        message.add_class("pdlib-explorer-message")
        return message
    return AttentionExplorer(state).widget
