"""``mrs-iam-sync policy-pack``: the guardrails pack directory to pass to ``pulumi --policy-pack``.

The pack ships inside the package (``mrs_guardrails/pack``), so a consumer repository needs no
copy of it. An installed package cannot know which virtualenv will run it, so the shipped
PulumiPolicy.yaml names none and the language host uses ``python3`` on PATH; ``--pin DIR`` writes a
pack directory that names this command's own virtualenv instead, for shells and CI steps that do
not activate it. Nothing here imports the pack: it needs the ``policy`` extra, this command does not.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from mrs_iam_sync.cli.outcome import CommandFailed, Outcome, exit_code_help

PACK_PACKAGE: Final = "mrs_guardrails"
PACK_DIRECTORY: Final = "pack"
PACK_FILES: Final = ("PulumiPolicy.yaml", "__main__.py")
POLICY_EXTRA: Final = "pip install 'pulumi-mrs-iam-sync[policy]'"

DESCRIPTION = """\
Print the directory of the guardrails policy pack that ships with this package, for
  pulumi preview --policy-pack "$(mrs-iam-sync policy-pack)" --policy-pack-config policy.<stack>.json

The pack runs with the python3 on PATH (or $PULUMI_PYTHON_CMD), which needs this package with its
policy extra. With --pin DIR, write a pack directory that runs with this command's own virtualenv
wherever pulumi starts it, and print DIR instead."""


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "policy-pack",
        help="the guardrails policy pack's directory, for pulumi --policy-pack",
        description=DESCRIPTION,
        epilog=exit_code_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--pin",
        metavar="DIR",
        type=Path,
        help="write a pack directory that names this virtualenv (created or overwritten), print it",
    )
    parser.set_defaults(run=run)


def installed_pack() -> Path:
    """The shipped pack directory, found without importing the pack (which needs pulumi-policy)."""
    spec = importlib.util.find_spec(PACK_PACKAGE)
    locations = list(spec.submodule_search_locations or ()) if spec is not None else []
    for location in locations:
        pack = Path(location) / PACK_DIRECTORY
        if all((pack / name).is_file() for name in PACK_FILES):
            return pack
    raise CommandFailed(f"the guardrails pack ({PACK_PACKAGE}/{PACK_DIRECTORY}) is not installed here")


def pin(pack: Path, directory: Path) -> Path:
    """Write ``directory``: the shipped pack, its PulumiPolicy.yaml naming this interpreter's virtualenv."""
    venv = Path(sys.prefix)
    if sys.prefix == sys.base_prefix or not (venv / "bin" / "python").exists():
        raise CommandFailed(
            f"--pin names the virtualenv mrs-iam-sync runs in, but {sys.executable} is not in one"
        )
    import yaml  # noqa: PLC0415 - only --pin reads YAML; --help loads no more than it must

    document = yaml.safe_load((pack / PACK_FILES[0]).read_text())
    document["runtime"].setdefault("options", {})["virtualenv"] = str(venv)
    directory.mkdir(parents=True, exist_ok=True)
    header = f"# Written by `mrs-iam-sync policy-pack --pin`: the pack of {pack}, run in {venv}.\n"
    (directory / PACK_FILES[0]).write_text(header + yaml.safe_dump(document, sort_keys=False, width=1000))
    shutil.copyfile(pack / PACK_FILES[1], directory / PACK_FILES[1])
    return directory.resolve()


def run(args: argparse.Namespace, extra: Sequence[str]) -> Outcome:
    if extra:
        raise CommandFailed("takes no arguments after --")
    pack = installed_pack()
    if importlib.util.find_spec("pulumi_policy") is None:
        # Only a warning: the pack runs under whatever python pulumi starts, which may have it.
        print(
            f"warning: the pack needs pulumi-policy, which {sys.executable} lacks: {POLICY_EXTRA}",
            file=sys.stderr,
        )
    print(pin(pack, args.pin) if args.pin is not None else pack)
    return Outcome.NO_CHANGES
