"""The ``radkit`` command: ``doctor``, ``fetch``, ``pack``, ``build-course``, ``cards``.

Introduced in notebook 00_start_here (``radkit doctor``) and in the README
(instructors: ``python3 run.py fetch`` before a workshop). Three ways to run it:
``python3 run.py doctor`` (from the course folder, no set-up needed),
``python -m radkit doctor``, or ``radkit doctor`` inside the course's ``.venv``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from radkit.errors import RadkitError

PROJECT = Path(__file__).resolve().parent.parent
CARD_MARK = "Written by `radkit cards`"  # in every card radkit writes; only such a file is replaced


def _doctor(args) -> int:
    from radkit.doctor import doctor

    return 0 if doctor() else 1


def _fetch(args) -> int:
    from radkit import download, nih, registry

    keys, status = args.datasets or ["pneumoniamnist"], 0
    for key in keys:
        dataset = registry.get(key)
        if key in nih.FETCHERS:  # NIH films one at a time from a web copy (notebooks 06, 07, 10)
            done = nih.FETCHERS[key]()
            print(f"{'OK ' if not (done.failed or done.stopped) else 'INCOMPLETE'} {dataset.title}: "
                  f"{len(done.ready)} films in {dataset.folder_name}/ in the data folder"
                  + (f", {len(done.unverified)} UNVERIFIED" if done.unverified else ""))
            status = 1 if (done.failed or done.stopped) else status
            continue
        variants = args.size or list(dataset.files)
        for variant in variants:
            if dataset.file(variant).unpack:  # an archive unpacked into a folder (BCCD, notebook 07)
                path = download.fetch_folder(key, variant, check=False)  # checked once, just below
                same = download.folder_digest(path) == dataset.file(variant).contents_sha256
                state = "OK " if same else "UNVERIFIED"
            elif key == "keras_weights":  # pretrained weights (notebook 04): checked by SHA-256, refused when they differ
                path, state = download.keras_weights(variant), "OK "
            else:
                path = download.fetch(key, variant)
                # An instructor copies this cache for a room: a file that is not the official one is said so.
                state = "OK " if download.md5sum(path) == dataset.file(variant).md5 else "UNVERIFIED"
            size = f"{variant} px" if isinstance(variant, int) else str(variant)
            print(f"{state} {dataset.title}, {size}: {path}")
    return status


def _pack(args) -> int:
    from radkit import pack

    if args.verify:
        rows = pack.verify_pack(args.folder)
        for row in rows:
            if not row["ok"]:
                print(f"PROBLEM  {row['path']}: {row['problem']}")
        bad = sum(not row["ok"] for row in rows)
        print(f"{len(rows) - bad} of {len(rows)} files verified" + (f"; {bad} with problems." if bad else "."))
        return 1 if bad else 0
    pack.make_pack(args.folder)
    return 0


def _build_course(args) -> int:
    from radkit.course import build_course

    written = build_course(Path(args.solutions), Path(args.course))
    if not written:
        raise RadkitError(f"There are no solution notebooks (named like 00_start_here.ipynb) in {args.solutions}.",
                          "Check the --solutions folder.")
    for path in written:
        print(f"wrote {path}")
    return 0


def _cards(args) -> int:
    from radkit.registry import DATASETS, card_markdown

    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    for key, dataset in DATASETS.items():
        path = folder / f"{key}.md"
        if path.exists() and CARD_MARK not in path.read_text(encoding="utf-8", errors="replace"):
            raise RadkitError(f"{path} exists and was not written by `radkit cards`, so it is not replaced.",
                              "Choose another --folder, or move that file away.")
        path.write_text(card_markdown(dataset), encoding="utf-8")
        print(f"wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the ``radkit`` command line."""
    parser = argparse.ArgumentParser(prog="radkit", description="RadKit course tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("doctor", help="check that this computer is ready for the course").set_defaults(run=_doctor)
    fetch = commands.add_parser("fetch", help="download datasets in advance (for example before a workshop)")
    fetch.add_argument("datasets", nargs="*", help="dataset names (default: pneumoniamnist); see datasets/")
    fetch.add_argument("--size", type=int, action="append", help="image size(s) for MedMNIST (28, 64, 128, 224)")
    fetch.set_defaults(run=_fetch)
    packer = commands.add_parser("pack", help="copy every dataset file into one folder for a workshop")
    packer.add_argument("folder", help="a new or empty folder (or a pack RadKit made, to update it)")
    packer.add_argument("--verify", action="store_true", help="check an existing pack file by file")
    packer.set_defaults(run=_pack)
    build = commands.add_parser("build-course", help="make course/ (student notebooks) from solutions/")
    build.add_argument("--solutions", default=str(PROJECT / "solutions"))
    build.add_argument("--course", default=str(PROJECT / "course"))
    build.set_defaults(run=_build_course)
    cards = commands.add_parser("cards", help="write the dataset cards in datasets/ from the registry")
    cards.add_argument("--folder", default=str(PROJECT / "datasets"))
    cards.set_defaults(run=_cards)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except RadkitError as error:
        print(f"radkit: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
