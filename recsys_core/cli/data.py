"""Subcommands ``info`` (summarise a dataset) and ``download`` (fetch MovieLens from GroupLens)."""
from __future__ import annotations

import sys
from pathlib import Path

from ..data.dataset import Dataset
from ..data.discovery import PROJECT_DATA_DIR, default_dataset, load_dataset
from ..data.download import MOVIELENS_ARCHIVES, download_movielens


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "info", help="summarise a dataset",
        description="Print a dataset's users, items, ratings, rating scale, genres, density and "
                    "what the loader did (rows read, duplicates merged, lines skipped). Without "
                    "--data, the default dataset ($RECSYS_DATA_DIR, else data/, else the demo).")
    p.add_argument("--data", metavar="PATH",
                   help="MovieLens folder (100K or latest format) or a ratings CSV "
                        "(user,item[,rating[,timestamp]])")
    p.add_argument("--items", metavar="CSV",
                   help="items CSV for a ratings CSV: item,title[,year][,genres]")
    p.set_defaults(func=info_command)

    p = subparsers.add_parser(
        "download", help="download a MovieLens dataset",
        description="Download a MovieLens archive from GroupLens, verify its SHA-256 and unpack "
                    "it into DEST/NAME (an existing folder is kept as is).")
    p.add_argument("name", choices=sorted(MOVIELENS_ARCHIVES), metavar="NAME",
                   help="one of " + ", ".join(sorted(MOVIELENS_ARCHIVES)))
    p.add_argument("--dest", metavar="DIR",
                   help="parent folder of the dataset (default: the project's data/ folder, "
                        "where info and the app look)")
    p.set_defaults(func=download_command)


def describe(dataset: Dataset) -> list[str]:
    """The lines ``info`` prints: counts first, then the load report."""
    summary = dataset.summary()
    lines = [f"dataset      {summary['name']}",
             f"source       {summary['source']}",
             f"users        {summary['users']}",
             f"items        {summary['items']}",
             f"ratings      {summary['ratings']}",
             f"rating scale {summary['rating scale']}",
             f"genres       {summary['genres']}",
             f"density      {summary['density']:.4%}",
             f"timestamps   {'yes' if summary['has timestamps'] else 'no'}",
             f"user table   {'yes' if summary['has user features'] else 'no'}"]
    if dataset.folds:
        lines.append(f"folds        {', '.join(dataset.folds)}")
    lines.append("load report:")
    lines += [f"  {line}" for line in dataset.report.lines()]
    return lines


def info_command(args) -> int:
    if args.data is None:
        if args.items is not None:
            print("error: --items needs --data (the ratings file)", file=sys.stderr)
            return 2
        dataset = default_dataset()
    else:
        dataset = load_dataset(Path(args.data), args.items)
    print("\n".join(describe(dataset)), flush=True)
    return 0


def download_command(args) -> int:
    interactive = sys.stderr.isatty()
    last = {"shown": -1}

    def progress(done: int, total: int | None, phase: str = "download") -> None:
        shown = done * 100 // total if total else done >> 20
        if (phase, shown) == last["shown"]:
            return
        last["shown"] = (phase, shown)
        text = (f"{args.name} {phase}: {done / 1e6:.1f} of {total / 1e6:.1f} MB ({shown}%)"
                if total else f"{args.name} {phase}: {done / 1e6:.1f} MB")
        if interactive:
            print("\r" + text, end="", file=sys.stderr, flush=True)
        elif total and shown % 25 == 0 or not total:
            print(text, file=sys.stderr, flush=True)

    target = (PROJECT_DATA_DIR if args.dest is None else Path(args.dest)) / args.name
    existed = target.exists()
    folder = download_movielens(args.name, args.dest, progress)
    if interactive and last["shown"] != -1:
        print(file=sys.stderr)
    print(f"{args.name} {'already present' if existed else 'ready'} in {folder}")
    return 0
