"""The attention explorer without a browser: attention arithmetic, ExplorerState's data, the controls' effects."""

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from explorer_fixture import FRAMES, SIZE, TASKS, build_outputs, write_video

from pdlib.attention import (
    ClipAttention,
    ExplorerError,
    attention_matrix,
    attention_view,
    frame_steps,
    longest_layer,
    one_step_note,
    received_attention,
)
from pdlib.models import build_model, save_model
from pdlib.widgets import AttentionExplorer, ExplorerState, build_explorer, url_parameters


@pytest.fixture(scope="module")
def outputs(explorer_outputs, tmp_path_factory):
    """The outputs folder holding a fake `smoke` profile (tests/explorer_fixture.py): this module's copy of the
    session's (tests/conftest.py), since the explorer writes its clip cache into the run."""
    return Path(shutil.copytree(explorer_outputs, tmp_path_factory.mktemp("widgets") / "outputs"))


@pytest.fixture(scope="module")
def state(outputs):
    return ExplorerState("smoke", root=outputs)


def softmax_attention(shape, seed=0):
    logits = np.random.default_rng(seed).normal(size=shape)
    e = np.exp(logits)
    return e / e.sum(axis=-1, keepdims=True)


def test_attention_matrix_selects_head_and_position_or_averages():
    att = softmax_attention((2, 3, 4, 5, 5))  # (heads, H', W', T', T')
    np.testing.assert_allclose(attention_matrix(att, 1, (2, 3)), att[1, 2, 3])
    np.testing.assert_allclose(attention_matrix(att, None, (0, 1)), att[:, 0, 1].mean(axis=0))
    np.testing.assert_allclose(attention_matrix(att, 0, None), att[0].mean(axis=(0, 1)))
    np.testing.assert_allclose(attention_matrix(att, None, None).sum(axis=1), np.ones(5))
    with pytest.raises(ValueError, match=r"head = 2 is out of range: expected 0\.\.1"):
        attention_matrix(att, 2, None)
    with pytest.raises(ValueError, match=r"column w = 4 .* expected 0\.\.3"):
        attention_matrix(att, 0, (0, 4))


def test_received_attention_is_the_mean_over_queries_at_each_position():
    att = softmax_attention((2, 3, 4, 5, 5))
    spatial = received_attention(att, 1)
    assert spatial.shape == (5, 3, 4)  # (T', H', W')
    np.testing.assert_allclose(spatial[:, 2, 1], att[1, 2, 1].mean(axis=0))
    np.testing.assert_allclose(spatial.sum(axis=0), np.ones((3, 4)))  # each position distributes 1 over steps


def test_frame_steps_cover_the_clip_evenly():
    assert frame_steps(8, 4).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert frame_steps(5, 2).tolist() == [0, 0, 0, 1, 1]
    assert frame_steps(4, 1).tolist() == [0, 0, 0, 0]


def test_a_model_scoring_windows_as_views_shows_one_block_of_attention_per_window():
    """ClipSpec views: the model never sees two windows together, so neither does its attention."""
    import torch

    from pdlib.attention import clip_attention
    from pdlib.data import ClipSpec, to_model_input
    from pdlib.models import attention_weights

    torch.manual_seed(0)
    model = build_model("r3d18_tsa", 2, clip=ClipSpec(64, 32, "windows2", views=True), widen=0.25)
    frames = np.random.default_rng(0).integers(0, 255, (64, 32, 32, 3), dtype=np.uint8)
    att = clip_attention(model, frames).attention
    window = attention_weights(model, to_model_input(torch.from_numpy(frames[32:])[None], train=False))
    for name, a in att.items():
        t = a.shape[-1] // 2
        assert t >= 2 and np.allclose(a[..., t:, t:], window[name][0].numpy(), atol=1e-6)  # the second window's
        assert (a[..., :t, t:] == 0).all() and (a[..., t:, :t] == 0).all()  # nothing across windows
        assert np.allclose(a.sum(-1), 1, atol=1e-5)


def test_state_lists_tasks_folds_and_the_test_videos_of_a_fold(state):
    assert state.tasks == list(TASKS)
    assert state.folds("finger") == [0, 1]
    videos = state.videos("finger", 0)
    assert set(videos["patient"]) == {"P0", "P2"}  # fold 0's test patients: its model never saw them
    assert len(videos) == 4 and set(videos["side"]) == {"L", "R"}


def test_clip_has_frames_recorded_prediction_and_attention_of_every_tsa_layer(state):
    video = state.videos("hand", 1)["video"].iloc[0]
    clip = state.clip("hand", 1, video)
    assert clip.frames.shape == (FRAMES, SIZE, SIZE, 3) and clip.frames.dtype == np.uint8
    assert len(clip.attention) == 8  # r3d18_tsa: two TSA convolutions in each of 2 blocks of layer3 and layer4
    assert clip.attention["layer3.0.conv1.attn"].shape == (2, 4, 4, 8, 8)  # (heads, H', W', T', T')
    assert clip.attention["layer4.1.conv2.attn"].shape == (2, 2, 2, 8, 8)
    row = state.predictions("hand").set_index("video").loc[video]
    assert (clip.label, clip.pred, clip.prob) == (row["label"], row["pred"], pytest.approx(row["prob"]))
    assert state.clip("hand", 1, video) is clip  # cached per (task, fold, video)


def test_view_changes_with_head_and_position(state):
    video = state.videos("finger", 0)["video"].iloc[0]
    layer = "layer3.0.conv2.attn"
    v0 = state.view("finger", 0, video, layer, 0, (1, 2))
    v1 = state.view("finger", 0, video, layer, 1, (1, 2))
    moved = state.view("finger", 0, video, layer, 0, (3, 0))
    mean = state.view("finger", 0, video, layer, None, None)
    assert v0.matrix.shape == (8, 8)
    np.testing.assert_allclose(v0.matrix.sum(axis=1), np.ones(8), rtol=1e-5)  # softmax over keys
    assert not np.allclose(v0.matrix, v1.matrix)
    assert not np.allclose(v0.matrix, moved.matrix)
    assert not np.allclose(v0.matrix, mean.matrix)
    np.testing.assert_allclose(v0.received, v0.matrix.mean(axis=0))
    assert v0.frame_maps.shape == (FRAMES, SIZE, SIZE) and v0.frame_step.tolist() == frame_steps(FRAMES, 8).tolist()
    with pytest.raises(ExplorerError, match="not a TSA layer"):
        state.view("finger", 0, video, "layer2", 0, None)


def test_task_weights_of_an_examination_from_fitted_heads(state):
    weights = state.task_weights(0, "E2")
    m = len(TASKS)
    assert weights.pixel.shape == (2, 2, 2, m)  # (T', H', W', M) of the fixture's layer4 features
    np.testing.assert_allclose(weights.pixel.sum(axis=-1), 1.0, rtol=1e-5)  # α_{t,h,w,m} sums to 1 over tasks
    assert weights.vector.shape == (m,) and weights.vector.sum() == pytest.approx(1.0, rel=1e-5)
    assert weights.present.all() and "notebook 04 fitted" in weights.source
    with pytest.raises(ExplorerError, match="E9 has no features in fold 0"):
        state.task_weights(0, "E9")


def test_clips_come_from_the_cache_with_the_models_clip_spec_and_a_lost_video_is_named(outputs, tmp_path):
    from pdlib.layout import Layout

    layout = Layout("smoke", outputs=outputs)
    cached = ExplorerState("smoke", root=outputs).clip("finger", 0, "videos/finger_E0_L.mp4")
    assert list(layout.cache_dir.glob(f"clips/T{FRAMES}_S{SIZE}_*/*.npy"))  # decoded once, into the run's cache
    data = shutil.copytree(layout.dataset_root, tmp_path / "mine")
    (data / "videos" / "finger_E2_L.mp4").unlink()
    state = ExplorerState("smoke", root=outputs, dataset=str(data))
    np.testing.assert_array_equal(state.clip("finger", 0, "videos/finger_E0_L.mp4").frames, cached.frames)
    with pytest.raises(ExplorerError, match="finger_E2_L.mp4.*cannot be used: missing file"):
        state.clip("finger", 0, "videos/finger_E2_L.mp4")


def test_the_explorer_draws_the_box_a_clip_was_cut_from(outputs, state, tmp_path):
    """Models trained on cropped clips (here the manifest's `crop` column): the explore tab shows the video's
    frame with the box, scaled to the frame drawn; whole-picture models show no box."""
    from pdlib.layout import Layout

    app = AttentionExplorer(state)
    assert state.crop("finger", 0, app.video.value) is None and app.crop.layout.display == "none"
    data = shutil.copytree(Layout("smoke", outputs=outputs).dataset_root, tmp_path / "cropped")
    videos = pd.read_csv(data / "videos.csv")
    videos["crop"] = "8 16 48 56"  # x0 y0 x1 y1 in pixels of the 80 x 80 picture
    videos.to_csv(data / "videos.csv", index=False)
    cropped = ExplorerState("smoke", root=outputs, dataset=str(data))
    frame, box, note = cropped.crop("finger", 0, "videos/finger_E0_L.mp4")
    assert frame.shape == (80, 80, 3) and box == (8, 16, 48, 56) and note == ""
    app = AttentionExplorer(cropped)
    assert app.crop.layout.display is None and app.crop.value[:4] == b"\x89PNG"


def test_without_models_the_explorer_says_which_notebook_to_run(tmp_path):
    build_outputs(tmp_path, models=False)
    app = build_explorer("smoke", "tsa_synact", root=tmp_path)
    assert "02_task_level" in app.value and "tsa_synact" in app.value
    assert "pdlib-explorer-message" in app._dom_classes


def test_a_setting_without_tsa_layers_is_refused_with_a_message(tmp_path):
    base = build_outputs(tmp_path, setting="i3d_synact")
    save_model(build_model("r3d10", 2, widen=0.125), base / "models" / "i3d_synact" / TASKS[0] / "fold0")
    app = build_explorer("smoke", "i3d_synact", root=tmp_path)
    assert "no TSA layer" in app.value and "r3d10" in app.value and "02_task_level" in app.value


def test_outputs_folder_defaults_to_pdlib_outputs(outputs, monkeypatch):
    monkeypatch.setenv("PDLIB_OUTPUTS", str(outputs))
    state = ExplorerState("smoke")
    assert state.base == outputs.resolve() / "smoke" and state.tasks == list(TASKS)


def test_controls_change_what_is_shown(state):
    app = AttentionExplorer(state)
    assert app.average.value and app.row.disabled  # averaged over positions at first
    first = app.matrix.value
    assert first[:4] == b"\x89PNG" and app.filmstrip.value[:4] == b"\x89PNG"
    app.head.value = 1
    by_head = app.matrix.value
    assert by_head != first
    app.average.value = False
    assert not app.row.disabled and app.row.max == 3  # layer3 of a 64-pixel clip: a 4 x 4 grid
    at_origin = app.matrix.value
    app.row.value = 2
    assert app.matrix.value != at_origin
    assert app.current_view().position == (2, 0)
    app.layer.value = "layer4.0.conv1.attn"
    assert app.row.max == 1 and app.row.value == 1  # clipped to the 2 x 2 grid of layer4


def test_task_change_reloads_folds_videos_and_clip(state):
    app = AttentionExplorer(state)
    before = app.info.value
    app.task.value = "hand"
    assert [v for _, v in app.video.options] == state.videos("hand", 0)["video"].tolist()
    assert app.current_clip().task == "hand" and app.info.value != before
    app.fold.value = 1
    assert [v for _, v in app.video.options] == state.videos("hand", 1)["video"].tolist()
    assert app.current_clip().fold == 1 and app.current_clip().patient in {"P1", "P3"}


def test_weights_button_shows_the_task_weights(state):
    app = AttentionExplorer(state)
    app.weights_button.click()
    assert app.weights_image.value[:4] == b"\x89PNG" and "notebook 04 fitted" in app.weights_note.value
    shown = app.weights_image.value
    app.video.value = app.video.options[-1][1]  # another examination of the same fold: weights follow
    assert app.weights_image.value != shown


def test_the_score_tab_scores_a_new_video_and_names_a_mistake(state, tmp_path):
    """The explorer's "Score a video" tab: a video outside the dataset gets the ensemble's probability, the call
    (or abstain) and the first fold's attention; a wrong path is said in words, in place."""
    new = tmp_path / "new_patient.mp4"
    write_video(new, seed=99)
    row, clip = state.score(str(new), "finger")
    assert 0.0 <= row["prob_1"] <= 1.0 and row["call"] in {"slight", "severe", "abstain"}
    assert clip.video == "new_patient.mp4" and clip.label == -1 and clip.frames.shape == (FRAMES, SIZE, SIZE, 3)
    assert set(clip.attention) and clip.pred == row["pred"]
    app = AttentionExplorer(state)
    assert app.widget.titles == ("Explore test videos", "Score a video")
    app.score_path.value, app.score_task.value = str(new), "finger"
    app.score_button.click()
    assert "P(severe) = " in app.score_result.value and app.score_filmstrip.value[:4] == b"\x89PNG"
    app.score_path.value = str(tmp_path / "nothing.mp4")
    app.score_button.click()
    assert "nothing.mp4 cannot be scored: missing file" in app.score_result.value
    assert app.score_filmstrip.value == b""
    with pytest.raises(ExplorerError, match="Give the path of a video file"):
        state.score("  ", "finger")


def test_a_layer_with_one_time_step_is_explained_and_the_longest_layer_is_chosen():
    frames = np.zeros((8, 16, 16, 3), np.uint8)
    attention = {"layer3.0.conv1.attn": softmax_attention((2, 2, 2, 2, 2)),
                 "layer4.0.conv1.attn": np.ones((2, 1, 1, 1, 1))}
    clip = ClipAttention("finger", 0, "v.mp4", "P01", "E1", "", 0, 0.2, 0, frames, attention)
    one = attention_view(clip, "layer4.0.conv1.attn")
    two = attention_view(clip, "layer3.0.conv1.attn")
    assert one.matrix.shape == (1, 1) and one.matrix[0, 0] == pytest.approx(1.0)
    note = one_step_note(one, len(frames))
    assert "layer4.0.conv1.attn has one time step" in note and "all 8 frames" in note and "1 × 1" in note
    assert one_step_note(two, len(frames)) == ""
    assert longest_layer(clip) == "layer3.0.conv1.attn"


def test_url_parameters_take_a_voila_query_over_the_notebooks_defaults(monkeypatch):
    defaults = {"profile": "smoke", "setting": "tsa_synact", "dataset": ""}
    monkeypatch.delenv("QUERY_STRING", raising=False)
    assert url_parameters(**defaults) == defaults
    monkeypatch.setenv("QUERY_STRING", "profile=default&dataset=%2Fdata%2Fmine&unknown=1")
    assert url_parameters(**defaults) == {"profile": "default", "setting": "tsa_synact", "dataset": "/data/mine"}
