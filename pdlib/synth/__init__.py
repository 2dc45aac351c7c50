"""Synthetic datasets generated on the user's machine: SynPD (examination videos shaped like the study's
private dataset, Sec. IV-A) and SynAct (an action-recognition set in UCF-101's layout, for pretraining)."""

from pdlib.synth.recordings import make_synpd_landmarks
from pdlib.synth.synact import make_synact
from pdlib.synth.synpd import make_synpd, oracle_ceiling, render_task, synpd_cohort

__all__ = ["make_synact", "make_synpd", "make_synpd_landmarks", "oracle_ceiling", "render_task", "synpd_cohort"]
