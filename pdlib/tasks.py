"""The study's vocabulary: the seven videotaped MDS-UPDRS-III items, the task-level binary label, the model
settings of its task-level tables and the columns of an out-of-fold prediction file."""

import numpy as np

# Order of the study's tables (Table IV/V); the assembling heads index tasks in this order.
TASKS: tuple[str, ...] = ("finger", "hand", "pronation", "toe", "leg", "postural", "kinetic")
# The tremor items (3.15, 3.16): held poses, scored by tremor amplitude rather than by repetitive movement.
TREMOR_TASKS: tuple[str, ...] = ("postural", "kinetic")

# MDS-UPDRS-III item numbers, for reports.
ITEMS: dict[str, str] = {
    "finger": "3.4 finger tapping",
    "hand": "3.5 hand movements",
    "pronation": "3.6 pronation-supination",
    "toe": "3.7 toe tapping",
    "leg": "3.8 leg agility",
    "postural": "3.15 postural tremor",
    "kinetic": "3.16 kinetic tremor",
}


# The task-level classes of Sec. IV-B, as a reader sees them.
TASK_CLASSES: dict[int, str] = {0: "slight (item score 0-1)", 1: "severe (item score 2-4)"}


def task_label(scores) -> np.ndarray:
    """Task-level binary class of the study (Sec. IV-B): 0 for item scores {0, 1}, 1 for {2, 3, 4}."""
    return (np.asarray(scores) >= 2).astype(np.int64)


# setting -> (label in the tables, backbone kind, pretraining source); the study's Tables III and V.
SETTINGS: dict[str, tuple[str, str, str | None]] = {
    "i3d_scratch": ("I3D (scratch)", "i3d", None),
    "i3d_synact": ("I3D (SynAct)", "i3d", "synact"),
    "i3d_kinetics": ("I3D (Kinetics)", "i3d", "kinetics"),
    "tsa_synact": ("TSA (SynAct)", "tsa", "synact"),
    "probe": ("Probe (motion energy, logistic)", "probe", None),  # Table V's non-deep baseline row
    "kinematics": ("Kinematics (keypoints, ordinal)", "kinematics", None),  # the pose-based family's row
}
UNUSABLE = "unusable video: "  # the note of a row (prediction, score) whose video could not be decoded
PROBE_LABEL = "Probe (motion + appearance, logistic)"  # Table II's
# The setting scored, explored and fed to the examination level by default. params/default.yaml's `setting` and
# `feature_setting` keys must equal it (tests/test_params.py checks).
DEFAULT_SETTING = "tsa_synact"
# How often a conformal prediction set must hold the true class, in every scoring entry point (`pdlib score
# --coverage`, 06, the explorer); params/default.yaml's `coverage` key must equal it (tests/test_params.py).
DEFAULT_COVERAGE = 0.9

# An out-of-fold prediction file (predictions/<setting>/<task>.csv): these columns first, then prob_<c> per class.
PREDICTION_COLUMNS = ["video", "patient", "exam", "task", "side", "label", "fold", "prob", "pred", "note"]
