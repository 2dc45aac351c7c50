"""SynAct: a synthetic action-recognition dataset in UCF-101's layout, standing in for the study's
pretraining set (Sec. V-A, V-B): articulated figures doing distinct motions, with SynPD's nuisances."""

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from pdlib.jobs import run_jobs
from pdlib.synth.render import (
    FPS,
    Camera,
    Capsule,
    Ellipse,
    Shape,
    lighting,
    prepare_output,
    render_frames,
    scenery,
    stable_seed,
    write_video,
)
from pdlib.synth.scenes import Look, random_look

VERSION = "synact-1"

# Joint angles in degrees (arms/legs from hanging down, positive outward), offsets in cm, `tw` the shoulder
# width factor. A term is (joint, base, amplitude, multiple of the class's base rate, phase, kind):
# sin: base + amp sin(m phi + ph); abs: base + amp |sin(m phi / 2 + ph)|; pulse: base + amp max(sin, 0)^2;
# ramp: base + amp m phi (a rotation). phi = 2 pi f t, f drawn per clip.
Term = tuple[str, float, float, float, float, str]
PI = float(np.pi)
DEG = 180.0 / PI
ACTIONS: dict[str, tuple[float, tuple[Term, ...]]] = {
    "WaveRightArm": (1.0, (("sR", 150, 10, 1, 0, "sin"), ("eR", 20, 35, 2, 0, "sin"))),
    "JumpingJack": (0.9, (("sR", 95, 75, 1, 0, "sin"), ("sL", 95, 75, 1, 0, "sin"),
                          ("hR", 14, 11, 1, 0, "sin"), ("hL", 14, 11, 1, 0, "sin"),
                          ("dy", 0, 4, 2, 0, "abs"))),
    "Squat": (0.6, (("dy", -12, 12, 1, PI / 2, "sin"), ("kR", 20, 20, 1, PI / 2, "sin"),
                    ("kL", 20, 20, 1, PI / 2, "sin"), ("hR", 15, 8, 1, -PI / 2, "sin"),
                    ("hL", 15, 8, 1, -PI / 2, "sin"), ("sR", 85, 0, 1, 0, "sin"),
                    ("sL", 85, 0, 1, 0, "sin"))),
    "ArmCirclesFast": (1.6, (("sR", 0, DEG, 1, 0, "ramp"), ("sL", 0, DEG, 1, 0, "ramp"))),
    "KickRight": (0.8, (("hR", 5, 60, 1, 0, "pulse"), ("kR", 0, 10, 1, 0, "pulse"),
                        ("sL", 25, 0, 1, 0, "sin"))),
    "SideBend": (0.6, (("lean", 0, 25, 1, 0, "sin"), ("sR", 165, 0, 1, 0, "sin"),
                       ("sL", 165, 0, 1, 0, "sin"))),
    "WaveBothArms": (1.0, (("sR", 150, 10, 1, 0, "sin"), ("sL", 150, 10, 1, PI, "sin"),
                           ("eR", 20, 35, 2, 0, "sin"), ("eL", 20, 35, 2, PI, "sin"))),
    "Clapping": (1.4, (("sR", 55, 0, 1, 0, "sin"), ("sL", 55, 0, 1, 0, "sin"),
                       ("eR", -75, 30, 1, 0, "sin"), ("eL", -75, 30, 1, 0, "sin"))),
    "JumpInPlace": (1.0, (("dy", 0, 14, 1, 0, "abs"), ("kR", 10, 10, 2, 0, "sin"),
                          ("kL", 10, 10, 2, 0, "sin"),
                          ("sR", 25, 15, 2, 0, "sin"), ("sL", 25, 15, 2, 0, "sin"))),
    "ArmCirclesSlow": (0.5, (("sR", 0, DEG, 1, 0, "ramp"), ("sL", 0, DEG, 1, 0, "ramp"))),
    "Punching": (1.2, (("sR", 85, 0, 1, 0, "sin"), ("sL", 85, 0, 1, 0, "sin"),
                       ("eR", 70, -70, 1, 0, "pulse"), ("eL", 70, -70, 1, PI, "pulse"))),
    "MarchInPlace": (0.9, (("kR", 5, 40, 1, 0, "pulse"), ("kL", 5, 40, 1, PI, "pulse"),
                           ("sR", 10, 15, 1, 0, "sin"), ("sL", 10, -15, 1, 0, "sin"))),
    "RunInPlace": (2.0, (("kR", 5, 50, 1, 0, "pulse"), ("kL", 5, 50, 1, PI, "pulse"),
                         ("dy", 0, 4, 2, 0, "abs"),
                         ("sR", 20, 30, 1, 0, "sin"), ("sL", 20, -30, 1, 0, "sin"),
                         ("eR", 70, 0, 1, 0, "sin"), ("eL", 70, 0, 1, 0, "sin"))),
    "HeadNod": (1.2, (("hy", 0, 3, 1, 0, "sin"),)),
    "HeadShake": (1.4, (("hx", 0, 3, 1, 0, "sin"),)),
    "Shrug": (0.9, (("shr", 0, 5, 1, 0, "abs"),)),
    "RaiseArmsSlow": (0.4, (("sR", 90, 80, 1, 0, "sin"), ("sL", 90, 80, 1, 0, "sin"))),
    "TorsoTwist": (0.7, (("tw", 0.65, 0.35, 1, 0, "sin"), ("sR", 80, 0, 1, 0, "sin"),
                         ("sL", 80, 0, 1, 0, "sin"))),
    "Swimming": (0.9, (("sR", 0, DEG, 1, 0, "ramp"), ("sL", 180, DEG, 1, 0, "ramp"))),
    "SideLunge": (0.6, (("dx", 0, 15, 1, 0, "sin"), ("hR", 15, 15, 1, 0, "sin"), ("hL", 15, -15, 1, 0, "sin"),
                        ("kR", 15, 15, 1, 0, "sin"), ("kL", 15, -15, 1, 0, "sin"))),
    "WalkAcross": (0.9, (("dx", -40, 6, 1, 0, "ramp"), ("hR", 8, 12, 1, 0, "sin"),
                         ("hL", 8, -12, 1, 0, "sin"),
                         ("sR", 8, 12, 1, PI, "sin"), ("sL", 8, -12, 1, PI, "sin"))),
    "HopOneLeg": (1.1, (("hR", 35, 0, 1, 0, "sin"), ("kR", 70, 0, 1, 0, "sin"), ("dy", 0, 9, 1, 0, "abs"),
                        ("sR", 50, 0, 1, 0, "sin"), ("sL", 50, 0, 1, 0, "sin"))),
    "TapFoot": (1.5, (("kR", 0, 12, 1, 0, "pulse"), ("hR", 4, 3, 1, 0, "pulse"))),
    "HandTremor": (1.0, (("sR", 80, 0, 1, 0, "sin"), ("sL", 80, 0, 1, 0, "sin"),
                         ("eR", 0, 3, 5, 0, "sin"), ("eL", 0, 3, 5, 1.0, "sin"))),
}
SMOKE_ACTIONS = ("WaveRightArm", "JumpingJack", "Squat", "ArmCirclesFast", "KickRight", "SideBend")


@dataclass(frozen=True)
class SynActSize:
    """How big a SynAct is: classes, groups (actors), clips per group, frame size, clip length (s) and
    how many groups each of the three splits tests on."""

    n_classes: int
    n_groups: int
    clips_per_group: int
    width: int
    height: int
    min_seconds: float
    max_seconds: float
    test_groups: int


SIZES: dict[str, SynActSize] = {
    "smoke": SynActSize(6, 6, 1, 64, 48, 1.0, 1.6, 2),
    "default": SynActSize(24, 25, 2, 160, 120, 1.6, 3.2, 7),
    "paper": SynActSize(24, 25, 4, 320, 240, 2.0, 5.0, 7),
}


def _curve(term: Term, phi: np.ndarray) -> np.ndarray:
    _, base, amp, mult, ph, kind = term
    if kind == "sin":
        return base + amp * np.sin(mult * phi + ph)
    if kind == "abs":
        return base + amp * np.abs(np.sin(mult * phi / 2 + ph))
    if kind == "pulse":
        return base + amp * np.maximum(np.sin(mult * phi + ph), 0.0) ** 2
    return base + amp * mult * phi


def _figure(action: str, t: np.ndarray, rng: np.random.Generator, look: Look) -> list[Shape]:
    """Shapes of an articulated figure (front view, pelvis near y = 95 cm) doing `action`."""
    rate, terms = ACTIONS[action]
    phi = 2 * np.pi * rate * rng.uniform(0.7, 1.4) * t + rng.uniform(0, 2 * np.pi)
    amp = rng.uniform(0.8, 1.15)
    j = {k: np.zeros_like(t) for k in ("lean", "sR", "sL", "eR", "eL", "hR", "hL", "kR", "kL", "dx", "dy",
                                       "hx", "hy", "shr")}
    j["tw"] = np.ones_like(t)
    j["sR"] += 12.0  # arms hang slightly away from the body unless the action moves them
    j["sL"] += 12.0
    for term in terms:
        j[term[0]] = term[1] + amp * (_curve(term, phi) - term[1])
    lean = np.deg2rad(j["lean"])
    up, across = np.stack([np.sin(lean), np.cos(lean)], -1), np.stack([np.cos(lean), -np.sin(lean)], -1)
    pelvis = np.stack([j["dx"], 95.0 + j["dy"]], -1)
    neck = pelvis + 55.0 * up
    head = neck + 14.0 * up + np.stack([j["hx"], j["hy"]], -1)
    k = look.thick
    shapes: list[Shape] = []
    for side, sgn in (("R", 1.0), ("L", -1.0)):
        hip = pelvis + sgn * 9.0 * across
        h, kn = np.deg2rad(j["h" + side]), np.deg2rad(j["h" + side] - j["k" + side])
        knee = hip + 45.0 * np.stack([sgn * np.sin(h), -np.cos(h)], -1)
        ankle = knee + 45.0 * np.stack([sgn * np.sin(kn), -np.cos(kn)], -1)
        shapes += [Capsule(hip, knee, 6.5 * k, look.trousers), Capsule(knee, ankle, 5.0 * k, look.trousers),
                   Capsule(ankle, ankle + (sgn * 9.0, -2.0), 3.5 * k, look.shoe)]
    shapes.append(Capsule(pelvis + 6.0 * up, neck - 4.0 * up, 14.0 * k, look.shirt))
    shapes.append(Ellipse(head, (9.0, 11.0), -lean, look.skin))
    shapes.append(Ellipse(head + (0.0, 5.0), (9.5, 7.0), -lean, look.hair))
    for side, sgn in (("R", 1.0), ("L", -1.0)):
        shoulder = neck + sgn * 17.0 * j["tw"][:, None] * across + np.stack([0 * t, j["shr"]], -1)
        s, e = np.deg2rad(j["s" + side]), np.deg2rad(j["s" + side] + j["e" + side])
        elbow = shoulder + 30.0 * np.stack([sgn * np.sin(s + lean * sgn), -np.cos(s + lean * sgn)], -1)
        wrist = elbow + 27.0 * np.stack([sgn * np.sin(e + lean * sgn), -np.cos(e + lean * sgn)], -1)
        shapes += [Capsule(shoulder, elbow, 5.0 * k, look.shirt), Capsule(elbow, wrist, 3.8 * k, look.skin),
                   Ellipse(wrist + 4.0 * (wrist - elbow) / 27.0, (4.0, 4.0), 0.0, look.skin)]
    return shapes


def render_action(action: str, *, seconds: float = 2.0, width: int = 160, height: int = 120, seed: int = 0,
                  actor_seed: int | None = None) -> np.ndarray:
    """One SynAct clip (T, H, W, 3) uint8 at 25 fps: the actor (appearance, room) from actor_seed, the
    motion's speed and phase, camera, lighting and noise from seed."""
    if action not in ACTIONS:
        raise ValueError(f"render_action: unknown action {action!r}; expected one of {sorted(ACTIONS)}")
    actor = np.random.default_rng(seed if actor_seed is None else actor_seed)
    look = random_look(actor)
    background = scenery(actor, height, width, floor=True)
    rng = np.random.default_rng(seed)
    n_frames = max(2, round(seconds * FPS))
    shapes = _figure(action, np.arange(n_frames) / FPS, rng, look)
    scale = height / 260.0 * look.size * rng.uniform(0.85, 1.15)  # the whole figure (~190 cm) in view
    center = (width * (0.5 + rng.uniform(-0.12, 0.12)), height * 0.5 + scale * rng.uniform(80.0, 96.0))
    cam = Camera(scale, rng.normal(0.0, 0.06), center, mirror=bool(rng.integers(2)))
    return render_frames(shapes, cam, background, lighting(rng, height, width), n_frames,
                         rng.uniform(1.5, 5.0), rng)


def _render_job(job: dict) -> str:
    frames = render_action(job["action"], seconds=job["seconds"], width=job["width"], height=job["height"],
                           seed=job["seed"], actor_seed=job["actor_seed"])
    write_video(Path(job["path"]), frames, "mpeg4")
    return job["path"]


def make_synact(out: str | Path, size: str = "default", seed: int = 0, progress: bool = True,
                workers: int | None = None) -> Path:
    """Generate SynAct into `out` in UCF-101's layout: videos/<Class>/v_<Class>_gGG_cCC.avi (MPEG-4 Part 2),
    splits/classInd.txt, trainlist0{1,2,3}.txt and testlist0{1,2,3}.txt with group-disjoint splits (test
    groups 1-7, 8-14, 15-21 at default), meta.json. Returns `out`; does nothing when already generated."""
    if size not in SIZES:
        raise ValueError(f"SynAct size {size!r} is unknown; expected one of {sorted(SIZES)}")
    out, cfg = Path(out), SIZES[size]
    meta = {"dataset": "synact", "size": size, "seed": seed, "version": VERSION, "config": asdict(cfg)}
    if prepare_output(out, meta, ".synact"):
        return out
    classes = list(SMOKE_ACTIONS) if size == "smoke" else list(ACTIONS)[: cfg.n_classes]
    rng = np.random.default_rng(stable_seed("synact", seed, size))
    jobs, names = [], []
    for action in classes:
        for g in range(1, cfg.n_groups + 1):
            for c in range(1, cfg.clips_per_group + 1):
                name = f"{action}/v_{action}_g{g:02d}_c{c:02d}.avi"
                names.append((action, g, name))
                jobs.append({"path": str(out / "videos" / name), "action": action,
                             "seconds": float(rng.uniform(cfg.min_seconds, cfg.max_seconds)),
                             "width": cfg.width, "height": cfg.height,
                             "seed": stable_seed("synact", seed, name),
                             "actor_seed": stable_seed("synact-actor", seed, g)})
    run_jobs(_render_job, jobs, workers=workers, progress=progress, desc="SynAct videos", unit="video")
    splits = out / "splits"
    splits.mkdir(parents=True, exist_ok=True)
    label = {a: i + 1 for i, a in enumerate(classes)}
    (splits / "classInd.txt").write_text("".join(f"{i} {a}\n" for a, i in label.items()))
    for k in (1, 2, 3):
        test = set(range((k - 1) * cfg.test_groups + 1, k * cfg.test_groups + 1))
        (splits / f"trainlist0{k}.txt").write_text(
            "".join(f"{n} {label[a]}\n" for a, g, n in names if g not in test))
        (splits / f"testlist0{k}.txt").write_text("".join(f"{n}\n" for a, g, n in names if g in test))
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    return out
