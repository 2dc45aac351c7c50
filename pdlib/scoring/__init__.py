"""Scoring new videos and recordings with a run's trained models (`pdlib score`, notebook 06, the explorer).

One idea per module, imported in this order (none imports the package itself):
`conformal` (CV+ conformal sets, the call or "abstain", ScoreError, coverage_table), `videos` (the deep setting's
fold ensemble: TaskModels, score_videos), `exams` (the assembling heads of notebooks 04 and 05 on new
examinations: score_exams), `kinematics` (the kinematics setting refitted on keypoints: add_kinematics), and
`request` (what `pdlib score` and notebook 06 ask for: score_request, score_dataset, write_scores, score_main).
These are research outputs on one's own cohort, not a diagnosis.
"""

from pdlib.scoring.conformal import ABSTAIN, CALLS, Conformal, ScoreError, class_probabilities, coverage_table
from pdlib.scoring.exams import EXAM_LEVELS, best_method, score_exams
from pdlib.scoring.request import meta_of, score_dataset, score_main, score_request, write_scores
from pdlib.scoring.videos import SCORE_COLUMNS, TaskModels, score_videos

__all__ = ["ABSTAIN", "CALLS", "EXAM_LEVELS", "SCORE_COLUMNS", "Conformal", "ScoreError", "TaskModels", "best_method",
           "class_probabilities", "coverage_table", "meta_of", "score_dataset", "score_exams", "score_main",
           "score_request", "score_videos", "write_scores"]
