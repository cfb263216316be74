"""``vocalmix listening``: the WAET listening test: export, import of results, simulated panel."""

from __future__ import annotations

import argparse

from vocalmix.cli._common import (Output, add_force, check_outputs, contains, error,
                                  is_json_with, own_if, starts_with)

from vocalmix.layout import EVALUATION_PER_TRACK, RATINGS, RENDERS_TABLE, WAET_DIR, WAET_KEY

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    p = sub.add_parser(
        "listening",
        help="export the WAET listening test, import its results, simulate a panel",
        description=(
            "The listening test in the Web Audio Evaluation Tool (WAET). 'export' writes a "
            "folder laid out like a WAET root (tests/vocalmix.xml, media/vocalmix/, KEY.tsv); "
            "'import' turns WAET result XMLs (saves/*.xml; only complete sessions) into a "
            "ratings table; 'simulate' writes simulated listeners' results in WAET's format."),
    )
    lsub = p.add_subparsers(dest="listening_command", metavar="ACTION")
    lsub.required = True
    e = lsub.add_parser("export", help="write the WAET test (XML, stimuli, KEY.tsv)",
                        description="Write the WAET test from the renders table "
                                    f"({RENDERS_TABLE}) into a WAET-root folder.")
    e.add_argument("--renders", default=RENDERS_TABLE, metavar="TSV",
                   help=f"renders table (default {RENDERS_TABLE}); relative paths "
                        "in it are taken from the current directory")
    e.add_argument("-o", "--output", default=WAET_DIR, metavar="DIR",
                   help=f"the WAET-root folder to write (default {WAET_DIR})")
    e.add_argument("--interface", choices=("MUSHRA", "APE"), default=None,
                   help="WAET interface (default: config listening.interface, MUSHRA)")
    e.add_argument("--no-open-reference", action="store_true",
                   help="no open reference button on the pages")
    e.add_argument("--max-items", type=int, default=None, metavar="N",
                   help="at most N pages (a seeded choice of the tracks)")
    e.add_argument("--seed", type=int, default=None,
                   help="seed of the page and element order (default: config seed)")
    add_force(e)
    i = lsub.add_parser("import", help="WAET result XMLs -> ratings table",
                        description="Read every WAET result XML in DIR (only sessions with "
                                    "state=\"complete\"; abandoned ones are counted) and write "
                                    "the ratings table (grades 0-100). A malformed or foreign "
                                    "file is reported by name and skipped (exit status 1).")
    i.add_argument("directory", metavar="DIR", help="folder of WAET result XMLs (saves/)")
    i.add_argument("-o", "--output", default=RATINGS, metavar="TSV",
                   help=f"ratings table to write (default {RATINGS})")
    i.add_argument("--key", metavar="KEY.tsv", default=None,
                   help="the export's KEY.tsv (element id -> track, condition); default "
                        f"{WAET_KEY} where it exists. Without a key the track "
                        "is the page id and the condition the element's name")
    i.add_argument("--no-key", action="store_true", help="do not use any KEY.tsv")
    i.add_argument("--summary", metavar="JSON", default=None,
                   help="also write the import summary (files, complete, abandoned, skipped)")
    i.add_argument("--survey", metavar="TSV", default=None,
                   help="the survey table to write: one row per listener (listener, "
                        "simulated, file, survey_<question>...), joined to the ratings by "
                        "'listener' (default: survey.tsv beside the ratings table)")
    add_force(i)
    s = lsub.add_parser("simulate", help="simulated listeners' WAET result files",
                        description="Write simulated listeners' results in WAET's result "
                                    "format for an exported test (the rating model is "
                                    "documented in vocalmix.listening.simulate).")
    s.add_argument("--waet", default=WAET_DIR, metavar="DIR",
                   help=f"the exported WAET-root folder (default {WAET_DIR})")
    s.add_argument("--metrics", default=EVALUATION_PER_TRACK, metavar="TSV",
                   help="objective metrics per track and condition")
    s.add_argument("-o", "--output", required=True, metavar="DIR",
                   help="folder for the result files")
    s.add_argument("-n", "--listeners", type=int, default=None,
                   help="complete sessions (default: config listening.simulation.listeners)")
    s.add_argument("--seed", type=int, default=None, help="seed (default: config seed)")
    add_force(s)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from vocalmix.config import schema_defaults

    seed = schema_defaults("")["seed"] if getattr(args, "seed", None) is None else args.seed
    if args.listening_command == "export":
        from vocalmix.audio import AudioError
        from vocalmix.listening.export import ExportError, ListeningSettings, export_test
        from vocalmix.listening.spec import StructureError

        from vocalmix.listening import MEDIA_DIR, TEST_XML
        from vocalmix.listening.export import KEY_COLUMNS

        out = Path(args.output)
        own = own_if(out / "KEY.tsv", starts_with("\t".join(KEY_COLUMNS) + "\n"))
        check_outputs([args.renders], [Output(out, folder=True), Output(out / "KEY.tsv", own),
                                       Output(out / TEST_XML, own),
                                       Output(out / "README-vocalmix.md", own),
                                       Output(out / MEDIA_DIR, own if (out / "KEY.tsv").exists()
                                              else None, folder=True)], force=args.force)
        try:
            given = {"interface": args.interface, "max_items": args.max_items,
                     "open_reference": False if args.no_open_reference else None}
            settings = ListeningSettings.from_mapping(
                {k: v for k, v in given.items() if v is not None})
            s = export_test(args.renders, args.output, seed=seed, settings=settings)
        except (ExportError, StructureError, AudioError, ValueError, OSError) as exc:
            error("listening export", str(exc))
            return 2
        for skip in s["skipped"]:
            error("listening export", f"{skip['track']}: left out: {skip['reason']}")
        print(f"{s['test']}: {s['items']} pages, {s['stimuli']} stimuli")
        print(f"copy the contents of {args.output}/ into a WAET checkout and open "
              f"test.html?url=tests/vocalmix.xml (see {args.output}/README-vocalmix.md)")
        return 0
    if args.listening_command == "import":
        from vocalmix.listening.export import ExportError, read_key
        from vocalmix.listening.results import (BASE_COLUMNS, import_sessions, write_ratings,
                                                write_survey)

        key_path = None if args.no_key else (args.key or (
            WAET_KEY if os.path.isfile(WAET_KEY)
            else None))
        try:
            key = read_key(key_path) if key_path else None
        except ExportError as exc:
            error("listening import", str(exc))
            return 2
        if not os.path.isdir(args.directory):
            error("listening import", f"{args.directory}: not a folder")
            return 2
        survey = args.survey or str(Path(args.output).with_name("survey.tsv"))
        outputs = [Output(args.output, starts_with("\t".join(BASE_COLUMNS) + "\n")),
                   Output(survey, starts_with("listener\tsimulated\tfile"))]
        if args.summary:
            outputs.append(Output(args.summary, is_json_with("complete", "abandoned",
                                                             "skipped")))
        inputs = [key_path, *sorted(Path(args.directory).iterdir())]
        check_outputs(inputs, outputs, force=args.force)
        imported = import_sessions(args.directory, key)  # logs each skipped file
        rows, summary = imported.rows, imported.summary
        if not rows:
            error("listening import", f"{args.directory}: no complete WAET result with "
                                       "ratings")
            return 2
        write_ratings(args.output, rows, simulated=summary["simulated"],
                      n_files=summary["complete"])
        write_survey(survey, imported.surveys)
        if args.summary:
            from vocalmix.files import write_json

            write_json(args.summary, summary)
        print(f"{args.output}: {summary['ratings']} ratings from {summary['complete']} "
              f"complete sessions ({summary['listeners']} listeners, {summary['items']} items)"
              f"; {len(summary['abandoned'])} abandoned, {len(summary['skipped'])} skipped"
              + (f"; key {key_path}" if key_path else "; no key")
              + ("; SIMULATED" if summary["simulated"] else "")
              + f"; survey {survey}")
        return 1 if summary["skipped"] else 0
    if args.listening_command == "simulate":
        from vocalmix.listening import TEST_XML
        from vocalmix.listening.simulate import SimulationSettings, simulate_panel

        from vocalmix.listening import SIMULATED_PLATFORM

        sim = SimulationSettings.from_mapping(
            {"listeners": args.listeners} if args.listeners else {})
        n = sim.listeners
        out = Path(args.output)
        complete = [out / f"complete-{i:02d}.xml" for i in range(1, n + 1)]
        abandoned = [out / f"abandoned-{j:02d}.xml" for j in range(1, sim.abandoned + 1)]
        own = contains(SIMULATED_PLATFORM)
        check_outputs([Path(args.waet) / TEST_XML, Path(args.waet) / "KEY.tsv", args.metrics],
                      [Output(out, folder=True)] + [Output(f, own) for f in complete + abandoned],
                      force=args.force)
        try:
            model = simulate_panel(
                Path(args.waet) / TEST_XML, Path(args.waet) / "KEY.tsv", args.metrics,
                complete, abandoned,
                seed=seed, settings=sim)
        except (ValueError, OSError) as exc:
            error("listening simulate", str(exc))
            return 2
        print(f"{out}: {n} simulated sessions ({len(model['careless'])} careless) and "
              f"{sim.abandoned} abandoned; SIMULATED")
        return 0
    return 2
