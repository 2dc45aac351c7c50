"""The seven examination tasks drawn as articulated 2D shapes (world cm, y up, right side of the body),
so that the item's severity is visible as motion (MDS-UPDRS-III items 3.4-3.8, 3.15, 3.16)."""

from dataclasses import dataclass

import numpy as np

from pdlib.synth.motion import repetitive, smooth_noise, tremor
from pdlib.synth.render import FPS, Capsule, Ellipse, Shape

SKIN_TONES = np.array([[0.96, 0.80, 0.69], [0.89, 0.67, 0.54], [0.78, 0.57, 0.44],
                       [0.55, 0.38, 0.28], [0.36, 0.24, 0.17]])


@dataclass(frozen=True)
class Look:
    """A person's appearance: skin, clothing and shoe colours, body size and limb thickness."""

    skin: np.ndarray
    shirt: np.ndarray
    trousers: np.ndarray
    shoe: np.ndarray
    hair: np.ndarray
    size: float
    thick: float


def random_look(rng: np.random.Generator) -> Look:
    """Draw a person's appearance (skin tone between the palette's tones, clothing of any colour)."""
    i = rng.uniform(0, len(SKIN_TONES) - 1)
    lo = int(i)
    skin = SKIN_TONES[lo] + (i - lo) * (SKIN_TONES[min(lo + 1, len(SKIN_TONES) - 1)] - SKIN_TONES[lo])
    return Look(skin=skin, shirt=rng.uniform(0.05, 0.95, 3), trousers=rng.uniform(0.05, 0.6, 3),
                shoe=rng.uniform(0.02, 0.5, 3), hair=rng.uniform(0.05, 0.8) * np.array([1.0, 0.9, 0.8]),
                size=float(rng.uniform(0.88, 1.12)), thick=float(rng.uniform(0.85, 1.15)))


@dataclass(frozen=True)
class View:
    """What the camera frames for a task: world point at the image centre and the width seen (cm)."""

    center: tuple[float, float]
    width_cm: float
    floor: bool


def _polar(angle: np.ndarray, length: float | np.ndarray) -> np.ndarray:
    return np.stack([np.cos(angle), np.sin(angle)], -1) * np.asarray(length)[..., None]


def _finger(t, s, rng, look, sway) -> list[Shape]:
    o = repetitive(t, s, rng, f0=rng.uniform(2.5, 3.5))
    k, sk = look.thick, look.skin
    mcp = sway + (2.5, 2.0)
    phi = -0.12 + 1.0 * o  # index elevation (rad): about 8 cm aperture at the tip when fully open
    pip = mcp + _polar(phi, 4.2)
    tip = pip + _polar(phi - 0.3 * (1.0 - o), 3.3)
    thumb_base = sway + (-1.0, 0.3)
    thumb_tip = thumb_base + _polar(0.03 - 0.25 * o, 9.5)
    points = {"wrist": sway + (-6, -1.5), "thumb_cmc": thumb_base, "thumb_tip": thumb_tip, "index_finger_mcp": mcp,
              "index_finger_pip": pip, "index_finger_tip": tip, "middle_finger_mcp": sway + (2.0, 0.2)}
    return [Capsule(sway + (-34, -8), sway + (-6, -1.5), 3.0 * k, sk),
            Capsule(sway + (-40, -9.5), sway + (-22, -5.5), 3.9 * k, look.shirt),
            Ellipse(sway + (-2, 0), (5.5, 3.3), 0.15, sk),
            Ellipse(sway + (3.2, -1.6), (2.7, 1.5), -0.2, sk * 0.9),
            Capsule(thumb_base, thumb_tip, 1.05 * k, sk),
            Capsule(mcp, pip, 0.9 * k, sk), Capsule(pip, tip, 0.85 * k, sk)], points


def _hand(t, s, rng, look, sway) -> list[Shape]:
    o = repetitive(t, s, rng, f0=rng.uniform(1.6, 2.4))
    k, sk = look.thick, look.skin
    shapes: list[Shape] = [Capsule(sway + (0, -32), sway + (0, -4), 3.1 * k, sk),
                           Capsule(sway + (0, -45), sway + (0, -22), 3.9 * k, look.shirt),
                           Ellipse(sway + (0, 0.5), (4.3, 4.8), 0.0, sk),
                           Ellipse(sway + (0, 4.0), np.stack([np.full_like(o, 4.2), 0.4 + 1.4 * (1 - o)], -1),
                                   0.0, sk * 0.9)]
    points = {"wrist": sway + (0, -4)}
    for finger, x, length in (("index_finger", -3.0, 6.5), ("middle_finger", -1.0, 7.5),
                              ("ring_finger", 1.0, 7.2), ("pinky", 3.0, 5.8)):
        root = sway + (x, 4.0)
        ang = np.pi / 2 - np.deg2rad(x * (2.0 + 5.0 * o))  # fingers spread as the hand opens
        points[f"{finger}_mcp"], points[f"{finger}_tip"] = root, root + _polar(ang, length * (0.2 + 0.8 * o))
        shapes.append(Capsule(root, points[f"{finger}_tip"], 0.85 * k, sk))
    root = sway + (-3.8, -0.5)
    points["thumb_cmc"] = root
    points["thumb_tip"] = root + _polar(np.deg2rad(160 - 50 * (1 - o)), 5.5 * (0.55 + 0.45 * o))
    shapes.append(Capsule(root, points["thumb_tip"], 1.0 * k, sk))
    return shapes, points


def _pronation(t, s, rng, look, sway) -> list[Shape]:
    o = repetitive(t, s, rng, f0=rng.uniform(1.3, 2.0))
    cos_psi = np.cos(np.pi * o)  # 1: palm down, -1: palm up
    k, sk = look.thick, look.skin
    palm = np.clip(sk * np.array([1.08, 0.95, 0.95]) + 0.06, 0, 1)
    back, front = np.maximum(cos_psi, 0.0), np.maximum(-cos_psi, 0.0)
    n = len(t)
    across = np.stack([np.zeros(n), cos_psi], -1)  # the palm's width as the camera sees it turn
    points = {"wrist": sway + (-1.5, 0), "middle_finger_mcp": sway + (8.5, 0), "middle_finger_tip": sway + (14.2, 0),
              "index_finger_mcp": sway + (7.0, 0) + 3.0 * across, "pinky_mcp": sway + (7.0, 0) - 3.0 * across,
              "thumb_tip": sway + (7.5, 0) + 3.8 * across}
    return [Capsule(sway + (-38, 0), sway + (-4, 0), 3.0 * k, sk),
            Capsule(sway + (-50, 0), sway + (-26, 0), 3.9 * k, look.shirt),
            Ellipse(sway + (3.5, 0), np.stack([np.full(n, 5.0), 0.05 + 3.8 * back], -1), 0.0, sk),
            Ellipse(sway + (3.5, 0), np.stack([np.full(n, 5.0), 0.05 + 3.8 * front], -1), 0.0, palm),
            Ellipse(sway + (11.0, 0), np.stack([np.full(n, 3.2), 0.3 + 2.6 * np.abs(cos_psi)], -1), 0.0, sk),
            Capsule(sway + np.stack([np.full(n, 2.5), 2.8 * cos_psi], -1),
                    sway + np.stack([np.full(n, 7.5), 3.8 * cos_psi], -1), 0.95 * k, sk * 0.95)], points


def _toe(t, s, rng, look, sway) -> list[Shape]:
    beta = 0.45 * repetitive(t, s, rng, f0=rng.uniform(2.0, 3.0))  # toes up to about 10 cm
    heel = sway * 0.3 + (-1.0, 3.0)
    points = {"right_knee": sway * 0.3 + (0, 50), "right_ankle": sway * 0.3 + (0, 13), "right_heel": heel,
              "right_foot_index": heel + _polar(beta, 22.0)}
    return [Capsule(sway * 0.3 + (0, 50), sway * 0.3 + (0, 12), 5.0 * look.thick, look.trousers),
            Capsule(sway * 0.3 + (0, 13), heel + (1.0, 2.0), 3.3 * look.thick, look.shoe * 0.7 + 0.25),
            Capsule(heel, heel + _polar(beta, 22.0), 3.0 * look.thick, look.shoe),
            Ellipse(heel + _polar(beta, 13.0), (9.5, 3.6), beta, look.shoe)], points


def _leg(t, s, rng, look, sway) -> list[Shape]:
    gamma = 0.35 * repetitive(t, s, rng, f0=rng.uniform(1.2, 1.8))  # the knee rises up to about 14 cm
    hip = sway * 0.3 + (-40.0, 50.0)
    knee = hip + _polar(gamma, 42.0)
    ankle = knee + (0.0, -40.0)
    chair = np.array([0.25, 0.2, 0.15]) + 0.1
    return [Capsule((-60, 42), (-12, 42), 2.5, chair), Capsule((-16, 42), (-16, 0), 1.5, chair),
            Capsule(hip, knee, 7.5 * look.thick, look.trousers),
            Capsule(knee, ankle + (0.0, 5.0), 5.5 * look.thick, look.trousers),
            Capsule(ankle, ankle + (20.0, -2.0), 3.5 * look.thick, look.shoe)], \
        {"right_hip": hip, "right_knee": knee, "right_ankle": ankle, "right_foot_index": ankle + (20.0, -2.0)}


def _torso(look, sway, x: float) -> list[Shape]:
    return [Capsule(sway + (x, 20), sway + (x, -50), 13.0 * look.thick, look.shirt),
            Ellipse(sway + (x + 2, 36), (9.0, 11.0), 0.0, look.skin),
            Ellipse(sway + (x, 41), (9.5, 7.5), 0.2, look.hair),
            Ellipse(sway + (x + 11, 35), (1.6, 1.3), 0.0, look.skin * 0.95)]


def _postural(t, s, rng, look, sway) -> list[Shape]:
    d = tremor(t, s, rng, freq_hz=rng.uniform(4.0, 6.0))
    k, sk = look.thick, look.skin
    shoulder = sway + (-6.0, 18.0)
    elbow = shoulder + (28.0, 0.0) + 0.35 * d
    wrist = shoulder + (52.0, 0.0) + 0.85 * d
    return [*_torso(look, sway, -10.0),
            Capsule(shoulder, elbow, 4.5 * k, look.shirt), Capsule(elbow, wrist, 3.1 * k, sk),
            Ellipse(wrist + (5.0, 0.0) + 0.1 * d, (5.5, 2.2), 0.02 * d[:, 1], sk),
            Capsule(wrist + (8.0, 0.5) + 0.1 * d, wrist + (13.5, 0.5) + 0.25 * d, 0.9 * k, sk)], \
        {"nose": sway + (1.0, 35.0), "right_shoulder": shoulder, "right_elbow": elbow, "right_wrist": wrist,
         "right_index": wrist + (13.5, 0.5) + 0.25 * d}


def _kinetic(t, s, rng, look, sway) -> list[Shape]:
    reach = 0.5 - 0.5 * np.cos(2 * np.pi * rng.uniform(0.4, 0.7) * t + rng.uniform(0, 2 * np.pi))
    nose, target, shoulder = sway + (10.0, 29.0), np.array([57.0, 22.0]), sway + (0.0, 16.0)
    near = np.abs(2 * reach - 1)[:, None]  # tremor grows near the nose and the examiner's finger
    shake = tremor(t, s, rng, rng.uniform(4.0, 6.0)) * (0.6 + 0.8 * near)
    tip = nose + reach[:, None] * (target - nose) + shake
    u = (tip - shoulder) / np.linalg.norm(tip - shoulder, axis=1, keepdims=True)
    wrist = tip - 9.0 * u
    reach_len = np.clip(np.linalg.norm(wrist - shoulder, axis=1), 3.0, 53.0)
    l1, l2 = 28.0, 26.0
    bend = np.arccos(np.clip((l1 ** 2 + reach_len ** 2 - l2 ** 2) / (2 * l1 * reach_len), -1, 1))
    elbow = shoulder + _polar(np.arctan2(u[:, 1], u[:, 0]) - bend, l1)  # elbow below the line
    k, sk = look.thick, look.skin
    examiner = np.array([0.85, 0.68, 0.55])
    return [*_torso(look, sway, -2.0),
            Ellipse((76, 15), (5.0, 3.5), 0.3, examiner), Capsule((72, 17), target, 0.9, examiner),
            Capsule(shoulder, elbow, 4.5 * k, look.shirt), Capsule(elbow, wrist, 3.1 * k, sk),
            Capsule(wrist, wrist + 4.0 * u, 2.3 * k, sk), Capsule(wrist + 3.5 * u, tip, 0.85 * k, sk)], \
        {"nose": sway + (9.0, 35.0), "right_shoulder": shoulder, "right_elbow": elbow, "right_wrist": wrist,
         "right_index": tip}


SCENES = {"finger": (_finger, View((0.0, 1.0), 36.0, False)),
          "hand": (_hand, View((0.0, 2.0), 34.0, False)),
          "pronation": (_pronation, View((-4.0, 0.0), 44.0, False)),
          "toe": (_toe, View((8.0, 18.0), 64.0, True)),
          "leg": (_leg, View((-12.0, 32.0), 110.0, True)),
          "postural": (_postural, View((22.0, 16.0), 95.0, False)),
          "kinetic": (_kinetic, View((30.0, 16.0), 100.0, False))}


def task_scene(task: str, n_frames: int, severity: float, rng: np.random.Generator,
               look: Look) -> tuple[list[Shape], View, dict[str, np.ndarray]]:
    """Shapes over n_frames for one examination task at a latent severity (0..4.5), its framing, and the true
    joints the shapes are drawn from: {MediaPipe landmark name: (T, 2) world cm} (hand landmarks for the hand
    tasks, the right side's pose landmarks for the others; pdlib.kinematics names them)."""
    if task not in SCENES:
        raise ValueError(f"task_scene: unknown task {task!r}; expected one of {sorted(SCENES)}")
    fn, view = SCENES[task]
    t = np.arange(n_frames) / FPS
    sway = 0.4 * np.stack([smooth_noise(rng, n_frames, FPS, 0.5) for _ in range(2)], -1)
    shapes, points = fn(t, severity, rng, look, sway)
    return shapes, view, {name: np.broadcast_to(p, (n_frames, 2)).astype(float) for name, p in points.items()}
