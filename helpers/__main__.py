"""Command line: ``python -m helpers info | check | run NAME``.

info [--json]                       this machine's fingerprint
check [--json] [--full] [SECTION]   each lesson's key effect, measured now, and a verdict
run NAME [--save DIR] | run --list  one experiment from the shell; charts as PNG and SVG
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _info(args) -> int:
    from .machine import fingerprint

    fp = fingerprint()
    print(json.dumps(fp.to_dict(), indent=2) if args.json else fp)
    return 0


def _check(args) -> int:
    from .course.check import run_checks, to_json, verdict

    echo = None if args.json else print
    effects = run_checks(args.sections or None, quick=not args.full, echo=echo)
    print(to_json(effects) if args.json else verdict(effects))
    return 1 if any(e.holds is False for e in effects) else 0


def _run(args) -> int:
    from .course.registry import experiments, resolve

    EXPERIMENTS = experiments()
    if args.list or not args.name:
        width = max(map(len, EXPERIMENTS))
        for name, target in EXPERIMENTS.items():
            doc = (resolve(target).__doc__ or "").strip().partition("\n")[0]
            print(f"{name:<{width}}  {doc}")
        return 0
    if args.name not in EXPERIMENTS:
        print(f"unknown experiment {args.name!r}; known: {', '.join(EXPERIMENTS)}", file=sys.stderr)
        return 2
    import matplotlib

    matplotlib.use("Agg")
    result = resolve(EXPERIMENTS[args.name])()
    print(result)
    if args.save:
        folder = Path(args.save)
        folder.mkdir(parents=True, exist_ok=True)
        figures = result.plot()
        figures = figures if isinstance(figures, (list, tuple)) else [figures]
        for i, fig in enumerate(figures):
            stem = args.name if len(figures) == 1 else f"{args.name}-{i + 1}"
            for ext in ("png", "svg"):
                path = folder / f"{stem}.{ext}"
                fig.savefig(path, dpi=150 if ext == "png" else None, bbox_inches="tight")
                print(f"saved {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="what this machine offers a parallel program")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.set_defaults(func=_info)
    check = sub.add_parser("check", help="measure each lesson's key effect now")
    check.add_argument("sections", nargs="*", help="sections to run (default: all)")
    check.add_argument("--json", action="store_true", help="print the effects as JSON")
    check.add_argument("--full", action="store_true", help="longer, steadier measurements")
    check.set_defaults(func=_check)
    run = sub.add_parser("run", help="run one experiment and save its charts")
    run.add_argument("name", nargs="?", help="the experiment (see --list)")
    run.add_argument("--list", action="store_true", help="name the experiments")
    run.add_argument("--save", metavar="DIR", help="save the charts as PNG and SVG in DIR")
    run.set_defaults(func=_run)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as exc:  # bad input, e.g. an unknown HELPERS_START_METHOD
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
