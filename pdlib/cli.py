"""The `pdlib` command: reproduce, synth, check, preprocess."""

import argparse
import sys
from pathlib import Path


def _reproduce(args) -> int:
    from pdlib.run import reproduce

    summary = reproduce(args.profile, only=args.only, start=args.start)
    total = sum(r.seconds for r in summary.runs)
    for r in summary.runs:
        print(f"  {r.name:32s} {r.seconds:8.1f} s")
    print(f"{len(summary.runs)} notebooks in {total:.1f} s; index: {summary.index}")
    return 0


def _synth(args) -> int:
    from pdlib import synth

    make = {"pd": synth.make_synpd, "actions": synth.make_synact}[args.kind]
    out = make(Path(args.out), size=args.size, seed=args.seed)
    print(f"wrote {args.kind} dataset ({args.size}, seed {args.seed}) to {out}")
    return 0


def _check(args) -> int:
    from pdlib.data import check_main

    return check_main(args.dir)


def _preprocess(args) -> int:
    from pdlib.data import preprocess_main
    from pdlib.data.video import parse_window

    return preprocess_main(args.dir, args.frames, args.size, cache_dir=args.cache, workers=args.workers,
                           window=parse_window(args.window))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pdlib", description="Parkinson's disease severity from videos "
                                "(Yin et al., IEEE JBHI 2022): datasets, notebooks and tables.")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("reproduce", help="execute the notebooks with params/<profile>.yaml")
    r.add_argument("--profile", default="default", help="smoke | default | paper (a file in params/)")
    r.add_argument("--only", nargs="+", metavar="NAME", help="run only these notebooks (e.g. 00_dataset)")
    r.add_argument("--from", dest="start", metavar="NAME", help="start at this notebook")
    r.set_defaults(func=_reproduce)

    s = sub.add_parser("synth", help="generate a synthetic dataset (SynPD or SynAct)")
    s.add_argument("kind", choices=["pd", "actions"])
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--size", default="default", choices=["smoke", "default", "paper"])
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=_synth)

    c = sub.add_parser("check", help="validate a dataset folder (exit 0 ok, 1 unusable videos, 2 malformed)")
    c.add_argument("dir")
    c.set_defaults(func=_check)

    pp = sub.add_parser("preprocess", help="decode every video once into the clip cache")
    pp.add_argument("dir")
    pp.add_argument("--frames", type=int, required=True, help="frames per clip (the study: 32)")
    pp.add_argument("--size", type=int, required=True, help="clip side in pixels (the study: 224)")
    pp.add_argument("--cache", default=None, help="cache folder (default: <dir>/.pdlib_cache)")
    pp.add_argument("--workers", type=int, default=None, help="decoding processes (default: cores)")
    pp.add_argument("--window", default="", help="'' (default): frames spread over the whole video, as the "
                    "study; 'middle' or a start frame: consecutive frames at the native rate")
    pp.set_defaults(func=_preprocess)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from pdlib.run import ReproduceError

    try:
        return args.func(args)
    except ReproduceError as err:
        print(f"pdlib {args.command}: error: {err}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError, KeyError) as err:
        print(f"pdlib {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"pdlib {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
