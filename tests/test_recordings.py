"""Synthetic finger-tapping recordings (pdlib.synth.recordings): bouts shaped like real patients', landmarks
that give the aperture exactly, MediaPipe-like tracker noise, the SynPD landmark dataset, and the features of a
noisy two-handed recording against those of the clean single-hand bout."""

import hashlib
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import signal, stats

from pdlib.kinematics import Keypoints, task_features
from pdlib.synth import make_synpd_landmarks, synpd_cohort
from pdlib.synth.recordings import (
    COLUMNS,
    hand_landmarks,
    tapping_aperture,
    tapping_bout,
    tracker_noise,
    two_handed_recording,
)

FPS = 30.0


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    return make_synpd_landmarks(tmp_path_factory.mktemp("landmarks") / "noisy", size="smoke", seed=0)


def _ratio(xyz: np.ndarray, dims: int = 2) -> np.ndarray:
    """(T,) thumb tip to index tip distance over wrist to middle MCP, from (T, 21, >=dims) landmarks."""
    p = xyz[..., :dims]
    return np.linalg.norm(p[:, 4] - p[:, 8], axis=1) / np.linalg.norm(p[:, 0] - p[:, 9], axis=1)


def _taps(aperture: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Peak frames and per-tap amplitudes (peak minus the trough since the previous peak) of a clean aperture."""
    peaks, _ = signal.find_peaks(aperture, prominence=0.04, distance=3)
    lows = [aperture[(peaks[i - 1] if i else 0):p + 1].min() for i, p in enumerate(peaks)]
    return peaks, aperture[peaks] - np.asarray(lows)


def _bouts(severity: float, n: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    return [tapping_bout(severity, rng) for _ in range(n)]


def test_bout_lengths_rates_holds_and_halts_match_real_recordings():
    rng = np.random.default_rng(0)
    severity = rng.uniform(0.0, 4.0, 300)
    bouts = [tapping_bout(s, rng) for s in severity]
    seconds = np.array([len(b.t) / FPS for b in bouts])
    rate = np.array([b.rate_hz for b in bouts])
    assert seconds.min() >= 4.5 and seconds.max() <= 42.0 and 11.0 <= np.median(seconds) <= 15.0
    assert rate.min() >= 1.5 and rate.max() <= 6.0 and 2.7 <= np.median(rate) <= 3.3
    assert np.quantile(rate, 0.05) >= 1.6 and np.quantile(rate, 0.95) <= 4.7
    assert 24 <= np.median([b.n_taps for b in bouts]) <= 36
    held = [b for b in bouts if b.holds[0] > 0]
    assert 0.5 <= np.mean([max(b.holds) > 0 for b in bouts]) <= 0.8 and len(held) > 80
    for b in held:  # the hand held open: flat, and at least as open as the taps
        hold = b.aperture[:int((b.holds[0] - 0.05) * FPS)]
        assert np.ptp(hold) < 0.05 and hold.mean() > 0.5 * b.aperture.max()
    halted = [b for b in bouts if b.halts]
    assert len(halted) > 60
    for b in halted[:20]:  # a halt: no tap for a second or more inside the taps' window
        peaks, _ = _taps(b.aperture)
        inside = b.t[peaks][(b.t[peaks] > b.taps[0]) & (b.t[peaks] < b.taps[1])]
        assert np.diff(inside).max() >= 0.95
    halts = pd.Series([b.halts for b in bouts]).groupby(severity > 2.5).mean()
    assert halts[True] > 2 * halts[False]
    amplitude = [np.mean(_taps(b.aperture)[1]) for b in bouts]
    rho_amplitude, rho_rate = stats.spearmanr(severity, amplitude)[0], stats.spearmanr(severity, rate)[0]
    assert -0.75 <= rho_amplitude <= -0.3 and -0.45 <= rho_rate <= 0.05  # moderate, noisy; rate barely


def test_amplitude_fast_small_taps_and_late_decay_follow_severity():
    mild, mid, severe = _bouts(0.5, 150, 1), _bouts(2.0, 150, 2), _bouts(3.5, 150, 3)
    amp = {k: np.median([np.median(_taps(b.aperture)[1]) for b in v]) for k, v in
           (("mild", mild), ("severe", severe))}
    assert 0.9 <= amp["mild"] <= 1.5 and 0.35 <= amp["severe"] <= 0.85 and amp["mild"] - amp["severe"] > 0.3
    fast_small = [3.4 <= b.rate_hz <= 4.2 and np.median(_taps(b.aperture)[1]) < 0.6 for b in severe]
    assert np.mean(fast_small) >= 0.2 and not any(b.fast_small for b in mild)
    decay = [np.mean([b.decays for b in v]) for v in (mild, mid, severe)]
    assert decay[0] <= decay[1] <= decay[2] and decay[0] + 0.15 < decay[2] and decay[2] >= 0.25
    for b in [b for b in severe if b.decays][:15]:  # late: after 15-30 taps, to 0.1-0.3 of the start
        _, amps = _taps(b.aperture[b.t <= b.taps[1]])
        assert len(amps) >= 18 and amps[-3:].mean() < 0.45 * np.median(amps[:12])
    t, aperture = tapping_aperture(1.0, np.random.default_rng(4))
    assert t[0] == 0 and np.allclose(np.diff(t), 1 / FPS) and aperture.shape == t.shape and aperture.min() > 0


@pytest.mark.parametrize("mirror", [False, True])
def test_landmarks_give_the_aperture_exactly(mirror):
    rng = np.random.default_rng(1)
    aperture = np.abs(rng.normal(0.9, 0.5, 60)) + 0.02
    lm = hand_landmarks(aperture, rng, (700.0, 400.0), 120.0, rng.uniform(-3, 3, 60), mirror=mirror)
    assert lm.shape == (60, 21, 3) and np.isfinite(lm).all()
    np.testing.assert_allclose(_ratio(lm, 2), aperture, atol=1e-12)
    np.testing.assert_allclose(_ratio(lm, 3), aperture, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(lm[:, 0] - lm[:, 9], axis=1), 120.0)
    assert np.abs((lm[:, 0, :2] + lm[:, 9, :2]) / 2 - [700.0, 400.0]).max() < 0.1 * 120  # slight drift
    assert np.abs(lm[..., 2]).max() < 0.5 * 120
    upright = hand_landmarks(np.full(5, 1.0), rng, (0.0, 0.0), 100.0, 0.0, mirror=mirror)
    thumb_side = np.sign(upright[:, 4, 0] - upright[:, 9, 0])
    assert (thumb_side == (1 if mirror else -1)).all() and (upright[:, 12, 1] < upright[:, 0, 1]).all()


def test_two_handed_recording_one_bout_per_hand_the_other_resting():
    df, truth = two_handed_recording(0.5, 3.0, np.random.default_rng(2), width=1920, height=1080)
    assert list(df.columns) == COLUMNS and len(df) % 42 == 0 and set(df["track"]) == {0, 1}
    xyz = df[["x", "y", "z"]].to_numpy().reshape(-1, 2, 21, 3)
    t = df["t"].to_numpy()[::42]
    first, second = truth["order"]
    assert sorted(truth["order"]) == ["L", "R"] and truth[first]["end"] + 2.0 <= truth[second]["start"]
    assert truth[first]["start"] >= 1.0 and truth[second]["end"] <= t[-1] - 1.0
    for side, other in (("L", "R"), ("R", "L")):
        bout, k, j = truth[side], truth[side]["track"], truth[other]["track"]
        inside = (t >= bout["start"] - 1e-9) & (t <= bout["end"] + 1e-9)
        np.testing.assert_allclose(_ratio(xyz[inside, k]), bout["aperture"], atol=1e-9)
        np.testing.assert_allclose(bout["t"], t[inside])
        assert bout["start"] <= bout["taps_start"] < bout["taps_end"] <= bout["end"] + 1e-9
        assert _ratio(xyz[inside, j]).std() < 0.03  # resting: nearly constant
        assert xyz[inside, j, :, 1].mean() > xyz[inside, k, :, 1].mean() + 100  # lower in the picture
    assert np.median(xyz[:, truth["R"]["track"], 0, 0]) < 960 < np.median(xyz[:, truth["L"]["track"], 0, 0])
    size = np.median(np.linalg.norm(xyz[:, :, 0, :2] - xyz[:, :, 9, :2], axis=-1)) / 1920
    assert 0.055 <= size <= 0.116


def test_tracker_noise_is_as_unkind_as_mediapipe():
    rng = np.random.default_rng(7)
    clean, truth = two_handed_recording(1.0, 2.0, rng)
    noisy = tracker_noise(clean, rng, 1920, 1080)
    assert list(noisy.columns) == COLUMNS and len(noisy) % 21 == 0
    assert noisy["x"].between(-0.02, 1.02).all() and noisy["y"].between(-0.02, 1.02).all()
    assert noisy["z"].abs().max() < 0.05
    times = np.unique(noisy["t"])
    assert times[0] == 0.0 and times[1] - times[0] >= 0.5 - 1e-9  # one lone early frame
    per_frame = noisy.groupby("t")["track"].agg(["nunique", "max", "size"])
    assert (per_frame["max"] + 1 == per_frame["nunique"]).all()  # a frame's detections numbered 0..n-1
    assert (per_frame["size"] == 21 * per_frame["nunique"]).all() and (per_frame["nunique"] == 3).any()  # spurious
    wrist = noisy[noisy["landmark"] == 0].set_index("t")
    grid = np.unique(clean["t"])[np.unique(clean["t"]) >= 0.5]
    for half in (wrist["x"] < 0.5, wrist["x"] > 0.5):  # the patient's right hand, then the left one
        seen = np.isin(grid, wrist.index[half])
        gaps = np.diff(np.flatnonzero(np.diff(np.r_[1, seen.astype(int), 1])))[::2]  # lengths of unseen runs
        assert (~seen).sum() >= 10 and (gaps == 1).any() and gaps.max() >= 3  # isolated and runs absent
    two = wrist[wrist.index.isin(per_frame.index[per_frame["nunique"] == 2])]
    left_track = two.sort_values("x").groupby(level=0)["track"].first()  # the patient's right hand's id
    assert (np.diff(left_track.to_numpy()) != 0).sum() >= 3  # track ids swap
    merged = noisy.merge(clean, on=["t", "landmark"], suffixes=("", "_true"))
    err = np.hypot(merged["x"] * 1920 - merged["x_true"], merged["y"] * 1080 - merged["y_true"])
    size = np.median(np.linalg.norm(np.diff(clean[clean["landmark"].isin([0, 9])][["x", "y"]].to_numpy()
                                            .reshape(-1, 2, 2), axis=1)[:, 0], axis=1))
    own = err.groupby([merged["t"], merged["track"], merged["landmark"]]).min()  # the same hand's landmark
    own = own[own < 0.2 * size]
    assert 0.01 <= np.sqrt((own ** 2).mean()) / size <= 0.02  # ~1% of hand size per coordinate
    with pytest.raises(ValueError, match="expected columns"):
        tracker_noise(clean.drop(columns="z"), rng, 1920, 1080)


def test_dataset_lists_each_recording_for_both_sides(smoke):
    videos, truth = pd.read_csv(smoke / "videos.csv"), pd.read_csv(smoke / "truth.csv")
    exams = pd.read_csv(smoke / "exams.csv")
    assert list(videos.columns) == ["video", "patient", "exam", "task", "side", "score"]
    assert videos.groupby("video")["side"].apply(lambda s: sorted(s) == ["L", "R"]).all()
    assert (videos["task"] == "finger").all() and videos["score"].dtype.kind == "i"
    assert videos["score"].between(0, 4).all() and videos["video"].str.endswith("/finger.landmarks.csv").all()
    assert all((smoke / v).is_file() for v in videos["video"].unique()) and len(videos) == 2 * len(exams)
    assert set(exams["exam"]) == set(videos["exam"])
    assert (exams.set_index("exam").loc[videos["exam"], "patient"].to_numpy() == videos["patient"]).all()
    assert (truth[["video", "side"]].to_numpy() == videos[["video", "side"]].to_numpy()).all()
    assert (truth["start"] <= truth["taps_start"]).all() and (truth["taps_end"] <= truth["end"] + 1e-6).all()
    for row in truth.itertuples():
        kp = Keypoints.load(smoke / row.keypoints)
        assert kp.convention == "hand" and kp.side == row.side and kp.width in (1280, 1920)
        assert kp.t[0] == pytest.approx(row.start, abs=1e-3) and kp.t[-1] == pytest.approx(row.end, abs=1e-3)
    cohort, _, cohort_truth = synpd_cohort("smoke", 0)
    filmed = cohort.assign(true_severity=cohort_truth["true_severity"]).query("task == 'finger'")
    both = filmed.merge(videos.merge(truth, on=["video", "side"]), on=["exam", "side"], suffixes=("", "_lm"))
    assert len(both) == len(filmed) == truth["filmed"].sum()  # SynPD's finger rows keep score and severity
    assert (both["score"] == both["score_lm"]).all() and np.allclose(both["true_severity"], both["true_severity_lm"])
    assert json.loads((smoke / "meta.json").read_text())["noisy"] is True
    first = pd.read_csv(smoke / videos["video"][0])
    assert first["x"].between(-0.02, 1.02).all() and first["t"].diff().max() > 0.45


def test_a_second_call_does_nothing_and_a_foreign_folder_is_refused(smoke, tmp_path):
    stamp = (smoke / "videos.csv").stat().st_mtime_ns
    assert make_synpd_landmarks(smoke, size="smoke", seed=0) == smoke
    assert (smoke / "videos.csv").stat().st_mtime_ns == stamp
    (tmp_path / "mine.txt").write_text("keep")
    with pytest.raises(FileExistsError, match="not empty"):
        make_synpd_landmarks(tmp_path, size="smoke")


def test_same_seed_same_bytes(smoke, tmp_path):
    again = make_synpd_landmarks(tmp_path / "again", size="smoke", seed=0)
    files = sorted(p.relative_to(smoke) for p in smoke.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for f in files:
        assert hashlib.sha256((smoke / f).read_bytes()).digest() == hashlib.sha256((again / f).read_bytes()).digest(), f


def test_unnoised_pixels_with_frame_size(tmp_path):
    out = make_synpd_landmarks(tmp_path / "clean", size="smoke", seed=1, noisy=False)
    videos, truth = pd.read_csv(out / "videos.csv"), pd.read_csv(out / "truth.csv")
    assert list(videos.columns[-2:]) == ["width", "height"] and set(videos["width"]) <= {1280, 1920}
    row = truth.iloc[0]
    table = pd.read_csv(out / row["video"])
    assert table["x"].max() > 100 and table["t"].diff().abs().max() < 0.034  # pixels, every frame
    kp = Keypoints.load(out / row["keypoints"])
    frames = table[table["t"].between(row["start"] - 1e-3, row["end"] + 1e-3)]
    xy = frames.sort_values(["t", "track", "landmark"])[["x", "y"]].to_numpy().reshape(len(kp.t), 2, 21, 2)
    match = [np.abs(xy[:, k] - kp.xy).max() for k in (0, 1)]
    assert min(match) < 2e-3 and max(match) > 10  # the side's hand, to the file's 3 decimals


def test_noisy_two_handed_features_agree_with_the_clean_bout(smoke):
    from pdlib.landmarks import load_keypoints

    videos, truth = pd.read_csv(smoke / "videos.csv"), pd.read_csv(smoke / "truth.csv")
    names = ["amplitude_mean", "frequency_hz", "amplitude_cv", "rhythm_cv"]
    rel = []
    for row, true in zip(videos.itertuples(), truth.itertuples(), strict=True):
        clean = Keypoints.load(smoke / true.keypoints)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kp = load_keypoints(smoke / row.video, "finger", row.side, width=clean.width, height=clean.height)
        noisy, ideal = task_features(kp, "finger"), task_features(clean, "finger")
        assert noisy["reason"] == ""
        assert true.start - 0.1 <= noisy["active_from"] <= noisy["active_to"] <= true.end + 0.1
        rel.append({n: abs(noisy[n] / ideal[n] - 1) for n in names})
    rel = pd.DataFrame(rel)
    assert (rel[["amplitude_mean", "frequency_hz"]] <= 0.10).all().all()  # every row
    assert (rel.median() <= 0.10).all() and ((rel[["amplitude_cv", "rhythm_cv"]] <= 0.10).mean() >= 0.75).all()


def test_a_hand_at_rest_is_lost_for_seconds_never_through_its_bout():
    """With each hand's raised span given, the tracker also loses a resting hand for seconds (0-80% of its
    rest), as MediaPipe loses a hand on the knee; through its bout a hand stays found as before."""
    lost_at_rest = []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        clean, truth = two_handed_recording(1.0, 2.0, rng)
        raised = {truth[s]["track"]: (truth[s]["start"], truth[s]["end"]) for s in "LR"}
        noisy = tracker_noise(clean, rng, 1920, 1080, raised)
        wrist = noisy[noisy["landmark"] == 0]
        times = np.unique(clean["t"])
        times = times[times >= 0.5]  # after the lone early first frame
        for side, on_left in (("R", True), ("L", False)):
            seen = np.isin(times, wrist.loc[(wrist["x"] < 0.5) == on_left, "t"])
            bout = (times >= truth[side]["start"]) & (times <= truth[side]["end"])
            assert seen[bout].mean() >= 0.85, (seed, side, seen[bout].mean())
            lost_at_rest.append(1 - seen[~bout].mean())
            runs = np.diff(np.flatnonzero(np.diff(np.r_[1, seen[~bout].astype(int), 1])))[::2]
            assert lost_at_rest[-1] < 0.1 or runs.max() >= 15  # lost for 0.5 s or more at a time
    assert max(lost_at_rest) >= 0.4 and min(lost_at_rest) < 0.4
