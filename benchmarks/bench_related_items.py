"""Related items (issue 19): do a film's most related titles show its franchise?

Measure: *franchise recall@10*. For each film of a franchise (the data table FRANCHISES below:
title patterns on the MovieLens titles), the share of its franchise siblings among its 10 most
related titles, siblings found / min(siblings, 10), averaged over the franchise films
(recsys_core.evaluation.metrics.group_recall_at_k); "se" is its standard error over those films.
A film counts when it has at least ``--min-ratings`` training ratings (default 5), a franchise
when at least two of its films count; the others are neither queries nor siblings.

Sources, each fitted on the training part of the catalogue's protocol test split
(catalogues.protocol_splits(dataset, seed=0)[0].train, the per-user 80% training part):
WALS and MF with their defaults, EASE (regularization 300), item-kNN (recsys_core.models.knn
.ItemKNN with its defaults, skipped with a note while the class is missing), implicit's ALS
(factors 64, regularization 0.05, iterations 15, alpha 1, on the binary matrix), softmax and
two-tower with their defaults. A model's related items are ``model.related_items(items, k)`` when
it has that method, else ``model.similar_items(items, k, measure="cosine")`` (the "how" column);
implicit's ALS: cosine of its item factors.

Also printed: the franchises and films counted per catalogue, each fit's time, and Toy Story
(1995)'s ten nearest titles per source (* marks a franchise sibling).

    RECSYS_DATA_DIR=../shared/data python benchmarks/bench_related_items.py [--quiet]
        [--catalogues ml-100k ml-latest-small] [--sources wals ease ...]
        [--wals "factors=128,regularization=0.1"] [--wals "item_frequency_exponent=0"] ...
        [--per-franchise] [--list-franchises]

``--wals SETTINGS`` (repeatable; likewise --mf, --ease, --item-knn, --implicit, --softmax,
--two-tower) adds a row fitted with those hyperparameters (NAME=VALUE, comma-separated, parsed as
``python -m recsys_core train --set`` does) next to the defaults row, e.g. to see what a change
of WALS's defaults does to related items.
"""
from __future__ import annotations

import os

# One BLAS thread: the solvers parallelise over rows themselves (implicit warns otherwise).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import ast  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys_core.cli.models import parse_settings  # noqa: E402
from recsys_core.evaluation.metrics import group_recall_per_item  # noqa: E402
from recsys_core.models import (EASE, WALS, MatrixFactorization, SoftmaxModel,  # noqa: E402
                                TwoTowerModel)
from recsys_core.retrieval.topk import related_items as embedding_related_items  # noqa: E402
from bench_implicit import binary, table  # noqa: E402  (this folder is on the path as a script)
from catalogues import load_catalogue, protocol_splits  # noqa: E402

K = 10
QUIET = False
TOY_STORY = "Toy Story (1995)"


def _titles(*fragments: str) -> str:
    """A regex matching a MovieLens title whose main part is one of ``fragments`` (regexes):
    the fragment must be followed by " (" (the year or an alternative title) or end the title,
    so "Alien" matches "Alien (1979)" and not "Alien Nation (1988)" nor "Aliens in the Attic"."""
    return rf"^(?:{'|'.join(fragments)})(?: \(|$)"


#: (franchise, title regex): written against ml-100k's and ml-latest-small's titles ("Godfather,
#: The (1972)", "Alien³ (a.k.a. Alien 3) (1992)"); `--list-franchises` prints what each matches.
#: Remakes and spin-offs that share the name are in; crossovers (Freddy vs. Jason, AVP, Batman v
#: Superman), TV specials (Shrek the Halls, Toy Story of Terror), animated side films (Batman:
#: Mask of the Phantasm, The Clone Wars), parodies (Rocky VI, Casino Royale 1967) and homonyms
#: are out. A title matching two franchises is an error.
FRANCHISES: tuple[tuple[str, str], ...] = (
    ("Star Wars", _titles(r"Star Wars: Episode [IVX]+ - .+", r"Star Wars \(1977\)",
                          r"Empire Strikes Back, The", r"Return of the Jedi")),
    ("The Godfather", _titles(r"Godfather(?:: Part I+)?, The")),
    ("Alien", _titles(r"Aliens?", r"Alien 3", r"Alien³", r"Alien: Resurrection")),
    ("Terminator", _titles(r"Terminator, The", r"Terminator \d: .+",
                           r"Terminator (?:Salvation|Genisys)")),
    ("Die Hard", _titles(r"Die Hard(?: 2|: With a Vengeance)?", r"Live Free or Die Hard",
                         r"Good Day to Die Hard, A")),
    ("Batman (1989-1997)", _titles(r"Batman \(1989\)", r"Batman (?:Returns|Forever|& Robin)")),
    ("The Dark Knight trilogy", _titles(r"Batman Begins", r"Dark Knight(?: Rises)?, The")),
    ("Toy Story", _titles(r"Toy Story(?: \d)?")),
    ("Harry Potter", _titles(r"Harry Potter and the .+")),
    ("Middle-earth (Jackson)", _titles(r"Lord of the Rings: The .+, The",
                                       r"(?:The )?Hobbit: .+")),
    ("Indiana Jones", _titles(r"Raiders of the Lost Ark", r"Indiana Jones and the .+")),
    ("Back to the Future", _titles(r"Back to the Future(?: Part I+)?")),
    ("Jurassic Park", _titles(r"Jurassic (?:Park(?: III)?|World)",
                              r"Lost World: Jurassic Park, The")),
    # "Star Trek 3 (2016)" is Star Trek Beyond under its working title.
    ("Star Trek", _titles(r"Star Trek(?: [IVX]+| 3)?(?:: .+)?",
                          r"Star Trek (?:Into Darkness|Beyond)")),
    ("Mission: Impossible", _titles(r"Mission: Impossible(?: .+)?")),
    ("Lethal Weapon", _titles(r"Lethal Weapon(?: \d)?")),
    ("Rocky", _titles(r"Rocky(?: I{1,3}| IV| V| Balboa)?")),
    ("Jaws", _titles(r"Jaws(?: 2| 3-D|: The Revenge)?")),
    ("Shrek", _titles(r"Shrek(?: 2| the Third| Forever After)?")),
    ("The Matrix", _titles(r"Matrix(?: Reloaded| Revolutions)?, The")),
    ("Pirates of the Caribbean", _titles(r"Pirates of the Caribbean: .+")),
    ("X-Men", _titles(r"X-Men(?:: .+| Origins: Wolverine)?", r"X2: X-Men United",
                      r"Wolverine, The")),
    ("Spider-Man", _titles(r"Spider-Man(?: \d)?", r"Amazing Spider-Man, The",
                           r"The Amazing Spider-Man \d")),
    ("Scream", _titles(r"Scream(?: \d)?")),
    ("Police Academy", _titles(r"Police Academy(?: \d)?(?:: .+)?")),
    ("Free Willy", _titles(r"Free Willy(?: \d: .+)?")),
    ("Home Alone", _titles(r"Home Alone(?: \d)?(?:: .+)?")),
    ("The Naked Gun", _titles(r"Naked Gun(?: 2 1/2| 33 1/3)?: .+")),
    ("A Nightmare on Elm Street", _titles(r"Nightmare on Elm Street(?: \d: .+)?, A",
                                          r"Wes Craven's New Nightmare",
                                          r"Freddy's Dead: The Final Nightmare")),
    ("Friday the 13th", _titles(r"Friday the 13th(?: Part .+)?", r"Jason X",
                                r"Jason Goes to Hell: The Final Friday")),
    ("Halloween", _titles(r"Halloween(?: I+| \d| H20)?(?:: .+)?")),
    ("Superman", _titles(r"Superman(?: I+| IV: .+| Returns)?")),
    ("James Bond", _titles(
        r"Dr\. No", r"From Russia with Love", r"Goldfinger", r"Thunderball",
        r"You Only Live Twice", r"On Her Majesty's Secret Service", r"Diamonds Are Forever",
        r"Live and Let Die", r"Man with the Golden Gun, The", r"Spy Who Loved Me, The",
        r"Moonraker", r"For Your Eyes Only", r"Octopussy", r"View to a Kill, A",
        r"Living Daylights, The", r"Licence to Kill", r"GoldenEye", r"Tomorrow Never Dies",
        r"World Is Not Enough, The", r"Die Another Day", r"Casino Royale \(2006\)",
        r"Quantum of Solace", r"Skyfall", r"Spectre")),
    ("Three Colors", _titles(r"Three Colors: (?:Blue|White|Red)")),
    ("Wallace & Gromit", _titles(r"Wallace (?:&|and) Gromit.+", r"Wrong Trousers, The",
                                 r"Close Shave, A", r"Grand Day Out.*")),
    ("Evil Dead", _titles(r"Evil Dead(?: II)?(?:, The)?", r"Army of Darkness")),
    ("Ace Ventura", _titles(r"Ace Ventura: .+")),
    ("Men in Black", _titles(r"Men in Black(?: II| III)?")),
    ("Austin Powers", _titles(r"Austin Powers(?::| in) .+")),
    ("Ghostbusters", _titles(r"Ghostbusters(?: II)?")),
    ("Bourne", _titles(r"Bourne Identity, The \(2002\)",
                       r"Bourne (?:Supremacy|Ultimatum|Legacy), The", r"Jason Bourne")),
    ("The Hunger Games", _titles(r"(?:The )?Hunger Games(?:: .+)?")),
    ("Mad Max", _titles(r"Mad Max(?: Beyond Thunderdome|: Fury Road)?", r"Road Warrior, The")),
    ("Planet of the Apes", _titles(r"(?:(?:Beneath|Escape from|Conquest of|Battle for|Rise of|"
                                   r"Dawn of) the )?Planet of the Apes")),
    ("Beverly Hills Cop", _titles(r"Beverly Hills Cop(?: I+)?")),
    ("Under Siege", _titles(r"Under Siege(?: 2: .+)?")),
    ("Speed", _titles(r"Speed(?: 2: Cruise Control)?")),
    ("Grease", _titles(r"Grease(?: 2)?")),
    ("Mortal Kombat", _titles(r"Mortal Kombat(?:: Annihilation)?")),
)


def say(*parts) -> None:
    if not QUIET:
        print(*parts, flush=True)


# ---------------------------------------------------------------------------- franchises
@dataclass
class Franchises:
    """The franchise films of one catalogue."""
    groups: np.ndarray        # (n_items,) franchise index of each counted film, else -1
    members: dict[str, np.ndarray]  # franchise -> all its films in the catalogue (item indices)
    counted: dict[str, np.ndarray]  # franchise -> its counted films (>= min ratings, >= 2 of them)

    @property
    def queries(self) -> np.ndarray:
        return np.flatnonzero(self.groups >= 0)


def find_franchises(titles, train_counts: np.ndarray, min_ratings: int) -> Franchises:
    patterns = [(name, re.compile(pattern)) for name, pattern in FRANCHISES]
    labels = np.full(len(titles), -1, dtype=np.int64)
    members: dict[str, list[int]] = {name: [] for name, _ in FRANCHISES}
    for item, title in enumerate(titles):
        hits = [f for f, (_, pattern) in enumerate(patterns) if pattern.search(title)]
        if len(hits) > 1:
            raise ValueError(f"{title!r} matches {[FRANCHISES[f][0] for f in hits]}")
        if hits:
            members[FRANCHISES[hits[0]][0]].append(item)
    counted = {}
    for f, (name, _) in enumerate(FRANCHISES):
        films = np.array([i for i in members[name] if train_counts[i] >= min_ratings], np.int64)
        if films.size >= 2:
            counted[name] = films
            labels[films] = f
    return Franchises(labels, {n: np.array(m, np.int64) for n, m in members.items()}, counted)


# ---------------------------------------------------------------------------- sources
class ImplicitALS:
    """implicit's ALS on the binary matrix; related items = cosine of its item factors."""

    related_items_source = "the cosine of implicit's item factors"

    def __init__(self, threads: int = 2, **params):
        from implicit.cpu.als import AlternatingLeastSquares

        self.model = AlternatingLeastSquares(random_state=0, num_threads=threads,
                                             calculate_training_loss=False, **params)

    def fit(self, dataset):
        self.model.fit(binary(dataset.ratings), show_progress=False)
        return self

    def related_items(self, items, k):
        return embedding_related_items(self.model.item_factors, items, k, "cosine")


def _item_knn_class():
    try:
        from recsys_core.models.knn import ItemKNN
    except ImportError:
        return None
    return ItemKNN


IMPLICIT_DEFAULTS = {"factors": 64, "regularization": 0.05, "iterations": 15, "alpha": 1.0}

#: option -> (row label, class or a function returning it (None when missing), parameters of
#: its first row, besides the class defaults). Rows appear in this order; --wals etc. add rows.
SOURCES = {
    "wals": ("WALS", WALS, {}),
    "mf": ("MF", MatrixFactorization, {}),
    "ease": ("EASE", EASE, {"regularization": 300.0}),
    "item-knn": ("item-kNN", _item_knn_class, {}),
    "implicit": ("implicit ALS", ImplicitALS, IMPLICIT_DEFAULTS),
    "softmax": ("softmax", SoftmaxModel, {}),
    "two-tower": ("two-tower", TwoTowerModel, {}),
}
#: What the first rows are, for the table's title.
FIRST_ROWS = ("first row of each source: its class defaults; EASE regularization 300; implicit "
              "ALS factors 64, regularization 0.05, iterations 15, alpha 1 (binary data)")


def split_settings(text: str) -> list[str]:
    """"a=1,b=x,c=1,2" -> ["a=1", "b=x", "c=1,2"]: a comma starts a new setting only before
    NAME=, so sequence values keep theirs."""
    return [s.strip() for s in re.split(r",(?=\s*\w+\s*=)", text) if s.strip()]


def parse_params(cls, text: str) -> dict:
    settings = split_settings(text)
    if cls is ImplicitALS:
        params = {}
        for setting in settings:
            name, _, raw = setting.partition("=")
            try:
                params[name.strip()] = ast.literal_eval(raw.strip())
            except (ValueError, SyntaxError):
                params[name.strip()] = raw.strip()
        return params
    return parse_settings(cls, settings)


@dataclass
class Source:
    label: str
    cls: type
    params: dict


def build_sources(args) -> list[Source]:
    sources = []
    for option, (label, cls, fixed) in SOURCES.items():
        if option not in args.sources:
            continue
        if cls is _item_knn_class:
            cls = cls()
            if cls is None:
                print(f"note: {label} skipped: recsys_core.models.knn.ItemKNN is not there yet",
                      flush=True)
                continue
        extra = {"threads": args.threads} if cls is ImplicitALS else {}
        sources.append(Source(label, cls, {**fixed, **extra}))
        for text in getattr(args, option.replace("-", "_")) or []:
            sources.append(Source(f"{label} {text}", cls,
                                  {**fixed, **extra, **parse_params(cls, text)}))
    return sources


def related(model, items: np.ndarray, k: int) -> tuple[np.ndarray, str]:
    """Each item's k related items (-1 padded) and how the model gave them."""
    if hasattr(model, "related_items"):
        out = model.related_items(items, k)
        how = "related_items: " + (getattr(model, "related_items_source", None) or "?")
    else:
        out, how = model.similar_items(items, k, measure="cosine"), "similar_items, cosine"
    out = out[0] if isinstance(out, tuple) else out
    return np.asarray(out, dtype=np.int64), how


# ---------------------------------------------------------------------------- benchmark
def short_title(title: str, width: int = 34) -> str:
    """The title without alternative titles in parentheses (the year kept), cut to width."""
    title = re.sub(r" \((?!\d{4}\))[^()]*\)", "", title)
    return title if len(title) <= width else title[:width - 1] + "…"


@dataclass
class Result:
    recall: float
    se: float
    seconds: float
    how: str
    per_item: np.ndarray
    toy_story: str


def run_catalogue(name: str, sources: list[Source], args) -> tuple[Franchises, dict]:
    dataset = load_catalogue(name)
    train = protocol_splits(dataset, seed=args.seed)[0].train
    titles = train.items["title"].astype(str).tolist()
    franchises = find_franchises(titles, train.item_popularity, args.min_ratings)
    queries = franchises.queries
    toy = titles.index(TOY_STORY) if TOY_STORY in titles else None
    ask = np.append(queries, toy) if toy is not None else queries
    say(f"{name}: {train.n_users} users x {train.n_items} items, {train.n_ratings} training "
        f"ratings; {len(franchises.counted)} franchises, {len(queries)} films counted")
    results = {}
    for source in sources:
        start = time.perf_counter()
        model = source.cls(**source.params).fit(train)
        seconds = time.perf_counter() - start
        neighbours, how = related(model, ask, args.k)
        per_item = group_recall_per_item(neighbours[:len(queries)], queries, franchises.groups,
                                         args.k)
        toy_line = ""
        if toy is not None:
            row = neighbours[-1]
            toy_line = "; ".join(("*" if franchises.groups[j] == franchises.groups[toy] >= 0
                                  else "") + short_title(titles[j]) for j in row[row >= 0])
        n = per_item.size
        se = float(per_item.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
        results[source.label] = Result(float(per_item.mean()) if n else float("nan"), se,
                                       seconds, how, per_item, toy_line)
        say(f"  {source.label}: franchise recall@{args.k} {results[source.label].recall:.3f} "
            f"({how}), fit {seconds:.1f} s")
    return franchises, results


def warm_up(sources: list[Source]) -> None:
    """Fit every source once on 60 users of ml-100k so numba's compilation stays out of the
    timings."""
    dataset = protocol_splits(load_catalogue("ml-100k"), seed=0)[0].train
    small = dataset.select_entries(np.repeat(np.arange(dataset.n_users) < 60,
                                             np.diff(dataset.ratings.indptr)))
    for source in sources:
        source.cls(**source.params).fit(small)


def list_franchises(catalogues, min_ratings: int, seed: int) -> None:
    for name in catalogues:
        train = protocol_splits(load_catalogue(name), seed=seed)[0].train
        titles = train.items["title"].astype(str).tolist()
        counts = train.item_popularity
        franchises = find_franchises(titles, counts, min_ratings)
        print(f"\n{name}")
        for franchise, films in franchises.members.items():
            mark = "counted" if franchise in franchises.counted else "not counted"
            print(f"  {franchise} ({mark}): "
                  + "; ".join(f"{titles[i]} [{counts[i]}]" for i in films))


def main():
    global QUIET
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalogues", nargs="+", default=["ml-100k", "ml-latest-small"],
                        choices=("ml-100k", "ml-latest-small"))
    parser.add_argument("--sources", nargs="+", default=list(SOURCES), choices=list(SOURCES),
                        metavar="SOURCE", help="which models to fit: " + ", ".join(SOURCES)
                        + " (default all)")
    for option, (label, _, _) in SOURCES.items():
        parser.add_argument(f"--{option}", action="append", metavar="SETTINGS",
                            help=f"also fit {label} with these hyperparameters "
                                 '("name=value,name=value"; repeatable)')
    parser.add_argument("--k", type=int, default=K, help=f"related items per film (default {K})")
    parser.add_argument("--min-ratings", type=int, default=5,
                        help="training ratings a franchise film needs to count (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="protocol split seed (default 0)")
    parser.add_argument("--threads", type=int, default=2, help="implicit's threads (default 2)")
    parser.add_argument("--per-franchise", action="store_true",
                        help="also print each franchise's mean recall per source")
    parser.add_argument("--list-franchises", action="store_true",
                        help="print each franchise's matched titles [training ratings] and exit")
    parser.add_argument("--quiet", action="store_true", help="print the tables only")
    args = parser.parse_args()
    QUIET = args.quiet
    if args.list_franchises:
        list_franchises(args.catalogues, args.min_ratings, args.seed)
        return
    sources = build_sources(args)
    warm_up(sources)
    by_catalogue = {name: run_catalogue(name, sources, args) for name in args.catalogues}

    header = ["source", "how"]
    for name in args.catalogues:
        header += [f"{name} R@{args.k}", "se", "fit s"]
    rows = []
    for source in sources:
        row = [source.label, None]
        for name in args.catalogues:
            r = by_catalogue[name][1][source.label]
            row[1] = row[1] or r.how
            row += [f"{r.recall:.3f}", f"{r.se:.3f}", f"{r.seconds:.1f}"]
        rows.append(row)
    counts = "; ".join(f"{name}: {len(f.counted)} franchises, {len(f.queries)} films"
                       for name, (f, _) in by_catalogue.items())
    table(f"Franchise recall@{args.k} of related items (protocol split seed {args.seed}, "
          f"training part; films with >= {args.min_ratings} training ratings; se: standard error "
          f"over the films). {counts}. {FIRST_ROWS}",
          header, rows)

    for name, (franchises, results) in by_catalogue.items():
        print(f"\n{TOY_STORY}: its {args.k} nearest titles on {name} (* = Toy Story sibling)")
        for source in sources:
            print(f"  {source.label}: {results[source.label].toy_story}")

    if args.per_franchise:
        for name, (franchises, results) in by_catalogue.items():
            queries = franchises.queries
            rows = []
            for franchise, films in franchises.counted.items():
                at = np.isin(queries, films)
                rows.append([franchise, len(films)]
                            + [f"{results[s.label].per_item[at].mean():.2f}" for s in sources])
            table(f"{name}: franchise recall@{args.k} per franchise",
                  ["franchise", "films"] + [s.label for s in sources], rows)


if __name__ == "__main__":
    main()
