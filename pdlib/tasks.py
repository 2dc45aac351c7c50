"""The seven videotaped MDS-UPDRS-III items of the study and the task-level binary label."""

import numpy as np

# Order of the study's tables (Table IV/V); the assembling heads index tasks in this order.
TASKS: tuple[str, ...] = ("finger", "hand", "pronation", "toe", "leg", "postural", "kinetic")

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


def task_label(scores) -> np.ndarray:
    """Task-level binary class of the study (Sec. IV-B): 0 for item scores {0, 1}, 1 for {2, 3, 4}."""
    return (np.asarray(scores) >= 2).astype(np.int64)
