"""SynPD: a synthetic cohort of MDS-UPDRS-III examination videos shaped like the study's dataset
(Sec. IV-A, Fig. 4, Tables IV and VI), with its ground truth and the ceiling that rater noise leaves."""

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pdlib.jobs import run_jobs
from pdlib.kinematics import Keypoints, keypoints_path
from pdlib.synth.render import (
    FPS,
    Camera,
    lighting,
    prepare_output,
    render_frames,
    scenery,
    stable_seed,
    write_video,
)
from pdlib.synth.scenes import random_look, task_scene
from pdlib.tasks import TASKS, TREMOR_TASKS, task_label

VERSION = "synpd-2"  # 2: each video's true keypoints beside it (the videos are those of synpd-1)

# Table IV of the study: (class 0, class 1) videos per task.
TABLE_IV: dict[str, tuple[int, int]] = {"finger": (66, 91), "hand": (89, 71), "pronation": (104, 72),
                                        "toe": (87, 71), "leg": (145, 39), "postural": (62, 23),
                                        "kinetic": (130, 38)}

# Conditions of Table VI: LCT patients are examined OFF then ON levodopa; SCT (DBS) patients three times.
# Each examination's total is the patient's OFF total times a factor ~ N(mean, sd) (OFF worse than ON).
CONDITION_FACTOR: dict[str, tuple[float, float]] = {"L-OFF": (1.0, 0.0), "L-ON": (0.38, 0.12),
                                                    "A": (0.60, 0.10), "B": (1.0, 0.0), "C": (0.33, 0.08)}
PROTOCOLS: dict[str, tuple[str, ...]] = {"LCT": ("L-OFF", "L-ON"), "SCT": ("A", "B", "C")}
N_ITEMS = 33  # MDS-UPDRS-III item scores (18 items, several per body side); the total is their sum
CUTS = np.array([0.5, 1.5, 2.5, 3.5])  # latent -> score 0..4

# Per task: slope on the examination's mean item level, offset, patient-specific sd, rater-noise sd.
# Offsets are calibrated so that the class-1 share matches Table IV; tremor items follow the overall
# severity loosely and depend on a patient's tremor propensity instead.
ITEM_MODEL: dict[str, tuple[float, float, float, float]] = {
    "finger": (1.0, 0.60, 0.35, 0.40), "hand": (1.0, 0.31, 0.35, 0.40),
    "pronation": (1.0, 0.23, 0.35, 0.40), "toe": (1.0, 0.29, 0.35, 0.42),
    "leg": (0.8, 0.00, 0.35, 0.40), "postural": (0.45, 0.40, 0.30, 0.35),
    "kinetic": (0.45, 0.25, 0.30, 0.35)}


@dataclass(frozen=True)
class SynPDSize:
    """How big a SynPD is: patients per protocol, videos per task (None: Table IV's counts), frame size,
    clip-length scale and bounds (s), and the least number of videos of each binary class per task."""

    n_lct: int
    n_sct: int
    videos_per_task: int | None
    width: int
    height: int
    duration_scale: float
    min_seconds: float
    max_seconds: float
    min_per_class: int


SIZES: dict[str, SynPDSize] = {
    "smoke": SynPDSize(3, 4, 12, 64, 48, 0.25, 1.0, 2.4, 3),
    "default": SynPDSize(18, 21, None, 160, 120, 1.0, 1.5, 30.0, 10),
    "paper": SynPDSize(18, 21, None, 320, 240, 1.0, 1.5, 30.0, 10),
}


def _size(size: str) -> SynPDSize:
    if size not in SIZES:
        raise ValueError(f"SynPD size {size!r} is unknown; expected one of {sorted(SIZES)}")
    return SIZES[size]


def _latent_exams(rng: np.random.Generator, n_lct: int, n_sct: int) -> dict[str, np.ndarray]:
    """Patients, their examinations and every item's latent severity and rated score (no rendering).

    Returns per-examination arrays (E,) patient index, condition; (E, 7, 2) task/side latent severity,
    rater noise and rated score; (E,) MDS-UPDRS-III total including the 19 items not videotaped.
    """
    n = n_lct + n_sct
    protocol = np.array(["LCT"] * n_lct + ["SCT"] * n_sct)[rng.permutation(n)]
    off_total = np.clip(rng.normal(55.0, 14.0, n), 20.0, 95.0)
    side_effect = np.abs(rng.normal(0.0, 0.5, n)) * rng.choice([-0.5, 0.5], n)  # one side more affected
    tremor_prop = rng.normal(0.0, 0.8, n)
    item_effect = rng.normal(0.0, 1.0, (n, len(TASKS)))
    other_effect = rng.normal(0.0, 0.5, (n, N_ITEMS - 2 * len(TASKS)))
    patient, condition = [], []
    for p in range(n):
        for c in PROTOCOLS[protocol[p]]:
            patient.append(p)
            condition.append(c)
    patient, condition = np.array(patient), np.array(condition)
    mean, sd = np.array([CONDITION_FACTOR[c] for c in condition]).T
    level = off_total[patient] * np.clip(rng.normal(mean, sd), 0.12, 1.0) / N_ITEMS  # mean item score
    slope, offset, p_sd, r_sd = (np.array([ITEM_MODEL[t][i] for t in TASKS]) for i in range(4))
    tremor = np.isin(TASKS, TREMOR_TASKS)
    sides = np.array([0.5, -0.5])[None, None, :] * 2 * side_effect[patient, None, None]
    latent = (slope[None, :, None] * level[:, None, None] + offset[None, :, None]
              + (p_sd * item_effect)[patient][:, :, None] + np.where(tremor, 1.0, 0.0)[None, :, None]
              * tremor_prop[patient, None, None] + np.where(tremor, 0.0, 1.0)[None, :, None] * sides
              + rng.normal(0.0, 0.25, (len(patient), len(TASKS), 2)))
    noise = rng.normal(0.0, 1.0, latent.shape) * r_sd[None, :, None]
    score = np.digitize(latent + noise, CUTS)
    others = (level[:, None] + other_effect[patient] - 0.45
              + rng.normal(0.0, 0.4, (len(patient), other_effect.shape[1])))
    total = score.sum(axis=(1, 2)) + np.digitize(others, CUTS).sum(axis=1)
    return {"patient": patient, "condition": condition, "protocol": protocol, "latent": latent,
            "noise": noise, "score": score, "total": total}


def synpd_cohort(size: str = "default", seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """SynPD's manifests without rendering: (videos, exams, truth) in docs/DATASET.md's "Dataset format".

    39 patients at default/paper size (18 LCT examined L-OFF and L-ON, 21 SCT examined A, B, C; Table VI),
    age ~ 63 +- 8, disease duration ~ 11 +- 5, 28 M / 11 F; videos kept per task as in Table IV. Videos also
    carry `seconds` (clip length, lognormal: mean 6.3 s, 90% under 10 s as Fig. 4a) and `seed` for rendering.
    The cohort is redrawn (deterministically) until every task has `min_per_class` videos of each class
    and every examination at least one video.
    """
    cfg = _size(size)
    for attempt in range(1000):
        rng = np.random.default_rng(stable_seed("synpd", seed, size, attempt))
        videos, exams, truth = _draw_cohort(rng, cfg, seed)
        labels = pd.crosstab(videos["task"], task_label(videos["score"]))
        every_exam_filmed = exams["exam"].isin(videos["exam"]).all()
        if every_exam_filmed and labels.reindex(index=list(TASKS), columns=[0, 1],
                                                fill_value=0).min().min() >= cfg.min_per_class:
            return videos, exams, truth
    raise RuntimeError(f"synpd_cohort: no cohort with {cfg.min_per_class} videos per class and a video "
                       f"per examination in 1000 draws "
                       f"(size={size!r}, seed={seed})")


def _draw_cohort(rng: np.random.Generator, cfg: SynPDSize, seed: int):
    lat = _latent_exams(rng, cfg.n_lct, cfg.n_sct)
    n = cfg.n_lct + cfg.n_sct
    pids = np.array([f"P{i + 1:02d}" for i in range(n)])
    n_male = round(n * 28 / 39)
    sex = np.array(["M"] * n_male + ["F"] * (n - n_male))[rng.permutation(n)]
    age = np.clip(np.round(rng.normal(63.0, 8.0, n)), 40, 85).astype(int)
    duration = np.clip(np.round(rng.normal(11.0, 5.0, n)), 1, 30).astype(int)
    p = lat["patient"]
    visit = pd.Series(p).groupby(p).cumcount().to_numpy() + 1
    exam_ids = np.array([f"{pids[i]}_E{v}" for i, v in zip(p, visit, strict=True)])
    exams = pd.DataFrame({"exam": exam_ids, "patient": pids[p], "condition": lat["condition"],
                          "total": lat["total"], "age": age[p], "sex": sex[p],
                          "disease_duration": duration[p]})
    n_exams = len(exam_ids)
    rows = []
    for ti, task in enumerate(TASKS):
        slots = 2 * n_exams
        keep = cfg.videos_per_task if cfg.videos_per_task is not None else sum(TABLE_IV[task])
        for s in np.sort(rng.choice(slots, size=min(keep, slots), replace=False)):
            e, si = divmod(int(s), 2)
            rows.append((e, ti, si))
    rows.sort()
    e, ti, si = (np.array(x) for x in zip(*rows, strict=True))
    side = np.array(["L", "R"])[si]
    task = np.array(TASKS)[ti]
    video = [f"videos/{exam_ids[a]}/{b}_{c}.mp4" for a, b, c in zip(e, task, side, strict=True)]
    seconds = np.clip(cfg.duration_scale * rng.lognormal(np.log(5.77), 0.42, len(e)), cfg.min_seconds,
                      cfg.max_seconds)
    latent, noise = lat["latent"][e, ti, si], lat["noise"][e, ti, si]
    videos = pd.DataFrame({"video": video, "patient": pids[p][e], "exam": exam_ids[e], "task": task,
                           "side": side, "score": lat["score"][e, ti, si],
                           "seconds": np.round(seconds, 2),
                           "seed": [stable_seed("synpd-video", seed, v) for v in video]})
    truth = pd.DataFrame({"video": video, "true_severity": np.round(latent, 4),
                          "rater_noise": np.round(noise, 4), "true_score": np.digitize(latent, CUTS)})
    return videos, exams, truth


def _binary_mcc(y: np.ndarray, p: np.ndarray) -> float:
    """Matthews correlation of two binary arrays (0 when either is constant)."""
    tp, tn = float(np.sum((y == 1) & (p == 1))), float(np.sum((y == 0) & (p == 0)))
    fp, fn = float(np.sum((y == 0) & (p == 1))), float(np.sum((y == 1) & (p == 0)))
    den = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return (tp * tn - fp * fn) / den if den > 0 else 0.0


def oracle_ceiling(seed: int = 0, n_cohorts: int = 100, n_draws: int = 10) -> pd.DataFrame:
    """Per task, the MCC an oracle knowing the true severity reaches against the rated binary label.

    Monte-Carlo over n_cohorts default-size cohorts and n_draws of rater noise per video: the binary class
    of the true score (Sec. IV-B's split) against the binary class of the rated score. No model can be
    expected to beat it on SynPD, whose videos show the true severity and whose labels carry rater noise.
    """
    cfg = SIZES["default"]
    rng = np.random.default_rng(stable_seed("synpd-ceiling", seed))
    lat = _latent_exams(rng, cfg.n_lct * n_cohorts, cfg.n_sct * n_cohorts)
    rows = []
    for ti, task in enumerate(TASKS):
        latent = lat["latent"][:, ti, :].ravel()
        r_sd = ITEM_MODEL[task][3]
        rated = np.digitize(latent[None, :] + rng.normal(0.0, r_sd, (n_draws, latent.size)), CUTS)
        truth = np.broadcast_to(task_label(np.digitize(latent, CUTS)), rated.shape)
        rated = task_label(rated)
        rows.append({"task": task, "oracle_mcc": round(_binary_mcc(truth, rated), 4),
                     "oracle_accuracy": round(float((truth == rated).mean()), 4),
                     "rater_noise_sd": r_sd, "class1_share": round(float(rated.mean()), 4),
                     "n_videos": latent.size * n_draws})
    return pd.DataFrame(rows)


def _scene(task: str, severity: float, seconds: float, width: int, height: int, side: str, seed: int,
           patient_seed: int | None, exam_seed: int | None):
    """What a video is drawn from: shapes, camera, background, lighting, n_frames, noise and the true joints."""
    patient_seed = seed if patient_seed is None else patient_seed
    exam_seed = seed if exam_seed is None else exam_seed
    look = random_look(np.random.default_rng(patient_seed))
    room = np.random.default_rng(exam_seed)
    exam_angle, exam_zoom = room.normal(0.0, 0.08), room.uniform(0.85, 1.15)
    exam_shift = room.uniform(-0.08, 0.08, 2)
    rng = np.random.default_rng(seed)
    view_rng, motion_rng, noise_rng = (np.random.default_rng(s) for s in rng.bit_generator.seed_seq.spawn(3))
    n_frames = max(2, round(seconds * FPS))
    shapes, view, points = task_scene(task, n_frames, severity, motion_rng, look)
    scale = width / view.width_cm * exam_zoom * look.size * view_rng.uniform(0.9, 1.1)
    center = (width * (0.5 + exam_shift[0]) - scale * view.center[0] * (-1 if side == "L" else 1),
              height * (0.5 + exam_shift[1]) + scale * view.center[1])
    cam = Camera(scale, exam_angle + view_rng.normal(0.0, 0.02), center, mirror=side == "L")
    background = scenery(np.random.default_rng(exam_seed + 1), height, width, floor=view.floor)
    light = lighting(np.random.default_rng(exam_seed + 2), height, width)
    return shapes, cam, background, light, n_frames, view_rng.uniform(1.5, 5.0), noise_rng, points


def render_task(task: str, severity: float, *, seconds: float = 3.0, size: tuple[int, int] = (160, 120),
                side: str = "R", seed: int = 0, scene_seeds: tuple[int | None, int | None] = (None, None),
                keypoints: bool = False):
    """One examination video (T, H, W, 3) uint8 at 25 fps of `task` at a latent severity (0..4.5), `size`
    (width, height) pixels.

    The patient's appearance comes from scene_seeds[0], the room and camera from scene_seeds[1] (both default to
    seed); the motion, the per-video zoom and the sensor noise from seed. Left videos are mirrored. With
    `keypoints`, returns (frames, Keypoints): the true 2D joints in pixels, in MediaPipe's conventions
    (`pdlib.kinematics`), that the frames are drawn from.
    """
    width, height = size
    shapes, cam, background, light, n_frames, noise_sd, noise_rng, points = _scene(
        task, severity, seconds, width, height, side, seed, *scene_seeds)
    frames = render_frames(shapes, cam, background, light, n_frames, noise_sd, noise_rng)
    if not keypoints:
        return frames
    pixels = {name: cam.project(p) for name, p in points.items()}
    return frames, Keypoints.from_named(pixels, np.arange(n_frames) / FPS, task, side)


def _render_job(job: dict) -> str:
    frames, keypoints = render_task(job["task"], job["severity"], seconds=job["seconds"],
                                    size=(job["width"], job["height"]), side=job["side"], seed=job["seed"],
                                    scene_seeds=(job["patient_seed"], job["exam_seed"]), keypoints=True)
    write_video(Path(job["path"]), frames, "libx264")
    keypoints.save(keypoints_path(job["path"]))
    return job["path"]


def make_synpd(out: str | Path, size: str = "default", seed: int = 0, progress: bool = True,
               workers: int | None = None, tasks: list[str] | None = None) -> Path:
    """Generate SynPD into `out`: videos/<exam>/<task>_<side>.mp4 (H.264, 25 fps) with its true keypoints
    beside it (`<task>_<side>.keypoints.npz`, `pdlib.kinematics.Keypoints`), videos.csv, exams.csv,
    truth.csv, ceiling.csv and meta.json (Sec. IV-A's dataset, synthetic). Returns `out`.

    `tasks`: only these tasks' videos (videos.csv and truth.csv list only them; each video is the one the whole
    dataset holds; exams.csv and the ceiling stay the whole cohort's), e.g. for a benchmark. Does nothing when
    out/meta.json records the same size, seed, tasks and generator version.
    """
    out = Path(out)
    cfg = _size(size)
    meta = {"dataset": "synpd", "size": size, "seed": seed, "version": VERSION, "config": asdict(cfg)}
    if tasks is not None:
        unknown = sorted(set(tasks) - set(TASKS))
        if unknown:
            raise ValueError(f"make_synpd: unknown task(s) {unknown}; expected some of {list(TASKS)}")
        meta["tasks"] = sorted(tasks)
    if prepare_output(out, meta, ".synpd"):
        return out
    videos, exams, truth = synpd_cohort(size, seed)
    if tasks is not None:
        videos = videos[videos["task"].isin(tasks)].reset_index(drop=True)
        truth = truth[truth["video"].isin(videos["video"])].reset_index(drop=True)
    severity = truth.set_index("video")["true_severity"]
    jobs = [{"path": str(out / v.video), "task": v.task, "side": v.side, "severity": float(severity[v.video]),
             "seconds": float(v.seconds), "width": cfg.width, "height": cfg.height, "seed": int(v.seed),
             "patient_seed": stable_seed("synpd-patient", seed, v.patient),
             "exam_seed": stable_seed("synpd-exam", seed, v.exam)} for v in videos.itertuples()]
    run_jobs(_render_job, jobs, workers=workers, progress=progress, desc="SynPD videos", unit="video")
    videos.drop(columns=["seconds", "seed"]).to_csv(out / "videos.csv", index=False)
    exams.to_csv(out / "exams.csv", index=False)
    truth.to_csv(out / "truth.csv", index=False)
    ceiling = oracle_ceiling(seed)
    ceiling.insert(1, "videos_here", ceiling["task"].map(videos["task"].value_counts()).fillna(0).astype(int))
    ceiling.to_csv(out / "ceiling.csv", index=False)
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    return out
