"""The `pdlib` command: reproduce, synth, check, preprocess, track, kinematics, score, report."""

import argparse
import logging
import sys
from pathlib import Path

from pdlib.messages import EXIT_CODES, count, plain_warnings
from pdlib.tasks import DEFAULT_COVERAGE


def _reproduce(args) -> int:
    from pdlib.run import reproduce

    summary = reproduce(args.profile, only=args.only, start=args.start)
    total = sum(r.seconds for r in summary.runs)
    for r in summary.runs:
        print(f"  {r.name:32s} {r.seconds:8.1f} s")
    print(f"{count(len(summary.runs), 'notebook')} in {total:.1f} s; index: {summary.index}")
    return 0


def _synth(args) -> int:
    from pdlib import synth

    make = {"pd": synth.make_synpd, "actions": synth.make_synact}[args.kind]
    out = make(Path(args.out), size=args.size, seed=args.seed)
    print(f"wrote {args.kind} dataset ({args.size}, seed {args.seed}) to {out}")
    return 0


def _check(args) -> int:
    from pdlib.data import check_main

    return check_main(args.dir, scored=not args.unscored)


def _preprocess(args) -> int:
    from pdlib.data import ClipSpec
    from pdlib.layout import Layout
    from pdlib.params import load_params
    from pdlib.preprocessing import preprocess_main

    params = load_params(args.profile)
    spec = ClipSpec.from_params({"frames": args.frames or params["frames"], "size": args.size or params["size"],
                                 "clip_window": params.get("clip_window") if args.window is None else args.window,
                                 "clip_crop": args.crop or params.get("clip_crop", "manifest"),
                                 "clip_crop_margin": params["clip_crop_margin"] if args.crop_margin is None
                                 else args.crop_margin})
    cache = args.cache or Layout(args.profile).cache_dir
    return preprocess_main(args.dir, spec, cache, workers=args.workers)


def _track(args) -> int:
    from pdlib.layout import Layout
    from pdlib.tracking import track_main

    return track_main(args.dir, args.cache or Layout(args.profile).cache_dir)


def _kinematics(args) -> int:
    from pdlib.layout import Layout
    from pdlib.tracking import kinematics_main

    layout = Layout(args.profile)
    return kinematics_main(args.dir, args.cache or layout.cache_dir, args.out or layout.kinematics_csv(args.dir))


def _score(args) -> int:
    from pdlib.scoring import score_main
    from pdlib.scoring.request import run_and_setting

    layout, setting = run_and_setting(args.profile, args.setting, args.models)
    return score_main(args.paths, layout, setting, task=args.task or "", side=args.side or [],
                      coverage=args.coverage, out=args.out, workers=args.workers)


def _side(text: str) -> str:
    """argparse type of --side: L or R (every file), or FILE:L / FILE:R (that file, or every file of that folder)."""
    if text.rpartition(":")[2] not in ("L", "R"):
        raise argparse.ArgumentTypeError(f"expected L, R or FILE:L / FILE:R, found {text!r}")
    return text


def _report(args) -> int:
    from pdlib.report_pages import report_main

    return report_main(args.source, profile=args.profile, out=args.out)


def _coverage(text: str) -> float:
    """argparse type: a coverage strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1 (e.g. 0.9), found {text!r}")
    return value


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (refused before any work starts)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, found {text!r}")
    return value


def _add_reproduce(sub) -> None:
    r = sub.add_parser("reproduce", help="execute the notebooks with params/<profile>.yaml")
    r.add_argument("--profile", default="default",
                   help="a file in params/: smoke (a plumbing check, minutes), default (the main run; "
                        "README, \"Profiles\"), paper (the study's sizes, for a GPU) or your own (default: "
                        "%(default)s)")
    r.add_argument("--only", nargs="+", metavar="NAME", help="run only these notebooks (e.g. 00_dataset)")
    r.add_argument("--from", dest="start", metavar="NAME", help="start at this notebook")
    r.set_defaults(func=_reproduce)


def _add_synth(sub) -> None:
    s = sub.add_parser("synth", help="generate a synthetic dataset (SynPD or SynAct)",
                       description="pd: SynPD, examination videos of the seven MDS-UPDRS-III tasks in the "
                                   "dataset format (videos.csv, exams.csv, ceiling.csv); actions: SynAct, an "
                                   "action dataset in the UCF-101 layout, for pretraining (Table II).")
    s.add_argument("kind", choices=["pd", "actions"], help="pd: SynPD (examinations); actions: SynAct")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--size", default="default", choices=["smoke", "default", "paper"],
                   help="the profile's dataset size (default: %(default)s)")
    s.add_argument("--seed", type=int, default=0, help="random seed of the cohort and videos (default: %(default)s)")
    s.set_defaults(func=_synth)


def _add_check(sub) -> None:
    c = sub.add_parser("check", help="validate a dataset folder (exit 0 ok, 1 unusable videos, 2 malformed or "
                                     "nothing usable)",
                       description="Validate a dataset folder: videos.csv and exams.csv (each fault named by file, "
                                   "row and column), every video (opened, first frame decoded) and every landmark "
                                   "file (read, the row's side's hand found); frame rates under 15 per second or "
                                   "variable are named. Exit codes: 0 every row usable, 1 some rows unusable "
                                   "(each named), 2 a malformed dataset (each fault named) or no usable row at "
                                   "all: the rule of every command (README, \"Exit codes\").")
    c.add_argument("dir")
    c.add_argument("--unscored", action="store_true",
                   help="scores may be empty: the folder of new patients that `pdlib score` accepts")
    c.set_defaults(func=_check)


def _add_preprocess(sub) -> None:
    pp = sub.add_parser("preprocess", help="decode every video once into a profile's clip cache",
                        description="Decode every video once into the clip cache that `pdlib reproduce --profile "
                                    "P` reads (outputs/P/cache), with the clip spec of params/P.yaml (frames, size, "
                                    "clip_window, clip_crop) unless --frames, --size, --window or --crop say "
                                    "otherwise, and write a report of the videos skipped or warned about. Exit "
                                    "codes: 0 every video cached, 1 some videos skipped (listed), 2 a malformed "
                                    "dataset, invalid arguments or no usable video at all.")
    pp.add_argument("dir")
    pp.add_argument("--profile", default="default",
                    help="the profile whose clip spec and cache to use (default: %(default)s)")
    pp.add_argument("--frames", type=_positive_int, help="frames per clip (default: the profile's; the study: 32)")
    pp.add_argument("--size", type=_positive_int, help="clip side in pixels (default: the profile's; the study: 224)")
    pp.add_argument("--cache", default=None, help="cache folder (default: the profile's, outputs/<profile>/cache)")
    pp.add_argument("--workers", type=int, default=None, help="decoding processes (default: the cores, when the videos "
                         "take long enough to repay starting them)")
    pp.add_argument("--window", default=None, help="'': frames spread over the whole video, as the study; "
                    "'middle' or a start frame: consecutive frames at the native rate (default: the profile's "
                    "clip_window)")
    pp.add_argument("--crop", choices=["manifest", "keypoints", "none"], default=None,
                    help="manifest: videos.csv's crop boxes; keypoints: a square around the landmarks the task "
                         "needs (`pdlib track` first, or keypoints beside the videos); none: the whole frame "
                         "(default: the profile's clip_crop)")
    pp.add_argument("--crop-margin", type=float, default=None,
                    help="with --crop keypoints: the margin on each side, a fraction of the landmarks' box side "
                         "(default: the profile's clip_crop_margin)")
    pp.set_defaults(func=_preprocess)


def _add_track(sub) -> None:
    tr = sub.add_parser("track", help="keypoints of every video with MediaPipe (the kinematics row; extra .[pose])",
                        description="Track the hand (finger, hand, pronation) or the body (toe, leg, tremors) in every "
                                    "frame of every video of a dataset folder with MediaPipe 0.10.14 (offline: its "
                                    "wheel holds the models; `pip install -e \".[pose]\"`, Python 3.9-3.12) into the "
                                    "profile's cache, for the kinematics row of Tables III and V. A video with its "
                                    "own <name>.keypoints.npz beside it (SynPD) is not tracked. Exit codes: 0 every "
                                    "video has keypoints, 1 some are unusable or tracked in under half their frames "
                                    "(named, with the fraction), 2 a malformed dataset, MediaPipe missing, or no "
                                    "video with usable keypoints at all.")
    tr.add_argument("dir")
    tr.add_argument("--profile", default="default", help="the profile whose cache to use (default: %(default)s)")
    tr.add_argument("--cache", default=None, help="cache folder (default: the profile's, outputs/<profile>/cache)")
    tr.set_defaults(func=_track)


def _add_kinematics(sub) -> None:
    k = sub.add_parser("kinematics", help="every video's kinematic features in one CSV (what a rater looks at)",
                       description="Measure every row of a dataset folder from its keypoints (its own landmark "
                                   "file, keypoints beside its video, or `pdlib track`'s in the profile's cache): "
                                   "the task's features (pdlib.kinematics: amplitude, speed, rate, rhythm, "
                                   "hesitations and halts, decrement; tremor frequency and amplitude), the fraction "
                                   "of frames tracked, the frame rate, the seconds measured and the rater's score, "
                                   "one CSV row per row. Exit codes: 0 every row measured, 1 some rows without "
                                   "features (named, with the reason), 2 a malformed dataset or no row with "
                                   "features at all.")
    k.add_argument("dir")
    k.add_argument("--profile", default="default", help="the profile whose cache to read (default: %(default)s)")
    k.add_argument("--cache", default=None, help="cache folder (default: the profile's, outputs/<profile>/cache)")
    k.add_argument("--out", default=None, help="the CSV to write (default: outputs/<profile>/tables/"
                                               "kinematics_<dataset folder>.csv)")
    k.set_defaults(func=_kinematics)


def _add_score(sub) -> None:
    from pdlib.tasks import TASKS
    sc = sub.add_parser("score", help="score new videos or landmark files with a run's trained task models",
                        description="Score videos of one task with the task's cross-validated fold models (their "
                                    "mean class probabilities; their spread) and a conformal prediction set at "
                                    "--coverage, calibrated on the models' out-of-fold predictions: a set of both "
                                    "classes is 'abstain'. Beside, every row with keypoints (a landmark file, "
                                    "keypoints beside its video or in the track cache) gets the kinematics "
                                    "model's predicted item score 0-4, P(severe) and conformal set (kinematics_* "
                                    "columns; kinematics_note says why a row has none); a landmark file is not "
                                    "scored by the deep models (no video). --models kinematics: the kinematics "
                                    "model alone. Give video or landmark files (.landmarks.csv, .keypoints.npz) "
                                    "or folders and --task (and --side for a landmark file), or one dataset "
                                    "folder (videos.csv, exams.csv; `score` may be empty) to score every task. "
                                    "Writes scores.csv (its columns: README, \"Score new videos\") and "
                                    "scores.json; with clinicians' scores in the dataset, prints the agreement "
                                    "with them. Exit codes: 0 every row scored, 1 some rows without any score "
                                    "(each named; the others scored), 2 a request that cannot be served or no "
                                    "row scored at all. Research outputs, not a diagnosis.")
    sc.add_argument("paths", nargs="+", metavar="VIDEO_OR_FOLDER")
    sc.add_argument("--task", choices=TASKS, help="the task the videos show (not needed for a dataset folder)")
    sc.add_argument("--side", action="append", type=_side, metavar="SIDE_OR_FILE:SIDE",
                    help="the body side a file shows, L or R (recorded in the output; for a landmark file, the "
                    "patient's hand to score, needed): `--side L` for every file, `--side FILE:R` for one file or "
                    "folder (repeatable; `--side L --side f2.mp4:R`: f2.mp4 R, the others L); a dataset folder's "
                    "sides are in its videos.csv")
    sc.add_argument("--profile", default="default", help="the run whose models score (default: %(default)s)")
    sc.add_argument("--setting", help="the task-level setting whose models score (default: the profile's "
                    "`setting`, tsa_synact)")
    sc.add_argument("--models", help="a setting's models folder, outputs/<profile>/models/<setting>, instead of "
                    "--profile and --setting; or `kinematics`: the run's kinematics model alone (no video decoded)")
    sc.add_argument("--coverage", type=_coverage, default=DEFAULT_COVERAGE,
                    help="how often the prediction set must hold the true class (default: %(default)s)")
    sc.add_argument("--out", help="output folder (default: outputs/<profile>/scores)")
    sc.add_argument("--workers", type=int, default=None, help="decoding processes (default: the cores, when the videos "
                         "take long enough to repay starting them)")
    sc.set_defaults(func=_score)


def _add_report(sub) -> None:
    rp = sub.add_parser("report", help="one HTML page per examination and cohort.csv, from scores or a dataset",
                        description="A page a clinician can read per examination (self-contained HTML: opens from "
                                    "disk, no server): per videotaped item P(severe), the call or 'abstain: needs a "
                                    "rater', the fold models' spread, the predicted item score with its set, the "
                                    "tracked share of frames, the movement signal and its taps, the patient's "
                                    "kinematic features among the training cohort's per item score, the attention "
                                    "filmstrip, and the examination-level call; and cohort.csv, one row per "
                                    "examination. Built by executing notebooks/07_report.ipynb per examination and "
                                    "converting it without its code. Exit codes: 0 every page written, 1 some "
                                    "examinations without a page (named), 2 nothing to report (said in one line). "
                                    "Research outputs, not a diagnosis.")
    rp.add_argument("source", metavar="SCORES_OR_DATASET",
                    help="a `pdlib score` output (scores.csv, scores.json or their folder) or a dataset folder "
                         "(videos.csv; scored first, as `pdlib score` does)")
    rp.add_argument("--profile", default="default", help="the run whose models, dataset and keypoints explain the "
                    "scores (default: %(default)s)")
    rp.add_argument("--out", help="output folder (default: outputs/<profile>/reports)")
    rp.set_defaults(func=_report)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pdlib", description="Parkinson's disease severity from videos "
                                "(Yin et al., IEEE JBHI 2022): datasets, notebooks and tables.",
                                epilog="`pdlib reproduce` runs --profile default unless told otherwise: the "
                                       "main run (its time on a 2-core CPU: README, \"Profiles\"); --profile smoke, a "
                                       "plumbing check of a few minutes. `pdlib COMMAND --help` for each "
                                       "command. "
                                       f"Exit codes of check, preprocess, track, kinematics and score: {EXIT_CODES}.")
    sub = p.add_subparsers(dest="command", required=True)
    _add_reproduce(sub)
    _add_synth(sub)
    _add_check(sub)
    _add_preprocess(sub)
    _add_track(sub)
    _add_kinematics(sub)
    _add_score(sub)
    _add_report(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from pdlib.params import ReproduceError

    try:
        with plain_warnings(args.command):
            return args.func(args)
    except ReproduceError as err:
        print(f"pdlib {args.command}: error: {err}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError, KeyError) as err:
        print(f"pdlib {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # nbclient leaves the interrupted cell's task unretrieved; asyncio would log it, with the kernel's
        # traceback, when the interpreter exits. The interruption is the whole message.
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)
        print(f"pdlib {args.command}: interrupted; rerun the same command to resume (finished folds and "
              "epochs are kept)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
