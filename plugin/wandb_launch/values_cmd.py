"""`values`: resolve per-cloud chart values from flags or a spec, check them with the SDK and the chart, write them."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

from wandb_launch import cloudvalues
from wandb_launch.clouds import CLOUDS, COMMON_FIELDS, URI_FIELDS, Cloud, Field
from wandb_launch.clusterargs import add_helm_argument
from wandb_launch.errors import InputError

HELP = "write a values file for the chart from a few per-cloud inputs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cloud", choices=None, help=f"one of {', '.join(CLOUDS)} (or key 'cloud' in the spec)")
    parser.add_argument("--spec", help="a small YAML spec with the inputs below as keys (flags override it)")
    parser.add_argument("-o", "--output-file", default="-", help="where to write the values (default: stdout)")
    parser.add_argument(
        "--chart", help="chart directory the values are checked against (default: the repository's chart/)"
    )
    add_helm_argument(parser)
    seen: set[str] = set()
    groups: dict[str, tuple[Field, ...]] = {f"{c.name}": c.fields for c in CLOUDS.values() if c.fields}
    groups["any cloud"] = URI_FIELDS
    groups["common"] = COMMON_FIELDS
    for title, fields in groups.items():
        group = parser.add_argument_group(f"{title} inputs")
        for fld in fields:
            if fld.key in seen:
                continue
            seen.add(fld.key)
            group.add_argument(
                fld.option,
                dest=_dest(fld),
                action="append" if fld.many else "store",
                metavar=fld.key.split("-")[-1].upper().rstrip("S") if fld.many else fld.key.upper().replace("-", "_"),
                help=fld.help,
            )


def _dest(fld: Field) -> str:
    return "in_" + fld.key.replace("-", "_")


def _read_spec(path: str) -> dict[str, Any]:
    from wandb_launch.chartvalues import load_yaml_file

    spec = load_yaml_file(path, "--spec")
    if spec is None:
        return {}
    if not isinstance(spec, dict):
        raise InputError(
            "--spec", f"{path} is not a mapping of inputs", "write it as key: value lines (cloud: gke, project: ...)"
        )
    return spec


def _display_path(path: str) -> str:
    rel = os.path.relpath(path)
    return rel if not rel.startswith("..") else path


def gather(args: argparse.Namespace) -> tuple[str, dict[str, Any], cloudvalues.Source]:
    """Cloud, raw inputs and their origin: the spec's keys, with flags over them."""
    raw: dict[str, Any] = {}
    source = cloudvalues.Source()
    cloud = args.cloud
    if args.spec:
        spec = _read_spec(args.spec)
        source.spec_path = _display_path(args.spec)
        cloud = cloud or spec.pop("cloud", None)
        spec.pop("cloud", None)
        raw.update(spec)
    for key, fld in cloudvalues.ALL_FIELDS.items():
        value = getattr(args, _dest(fld), None)
        if value is not None:
            raw[key] = value
            source.from_flags.add(key)
    if not cloud:
        where = "--cloud" if not args.spec else f"{source.spec_path}: key 'cloud'"
        raise InputError(where, "no cloud given", f"give --cloud {'|'.join(CLOUDS)}")
    return str(cloud), raw, source


def _refused_input(problem: str, cloud: Cloud, given: Collection[str], source: cloudvalues.Source) -> str:
    """The input behind the first chart value the chart's message names (a given one first)."""
    fields = [f for f in cloud.all_fields + COMMON_FIELDS if f.value]
    mentioned = sorted(
        (match.start(), fld.key not in given, index)
        for index, fld in enumerate(fields)
        for match in re.finditer(rf"(?<![\w.]){re.escape(fld.value)}(?!\w)", problem)
    )
    if not mentioned:
        return f"cloud {cloud.name}"
    return source.name(fields[mentioned[0][2]])


def check(
    resolved: cloudvalues.Resolved, given: Collection[str], source: cloudvalues.Source, chart: Path, helm: str
) -> list[str]:
    """Every resolved URI by the SDK's rules, the values by the chart's checks, then the
    launch config the chart renders from them by `AgentConfig`. Returns notes."""
    from wandb_launch import chartoutput, offlinecheck

    cloud = CLOUDS[resolved.cloud]
    if cloud.builds_images:
        builder = resolved.values["launchConfig"]["builder"]
        offlinecheck.check_destination(builder["destination"], cloud, source.name(cloud.field("destination")))
        offlinecheck.check_build_context_store(
            builder["buildContextStore"], cloud, source.name(cloud.field("build-context-store"))
        )
    try:
        rendered = chartoutput.render(chart, helm=helm, values=chartoutput.with_placeholder_key(resolved.values))
    except chartoutput.ChartRefused as refused:
        raise InputError(
            _refused_input(str(refused), cloud, given, source), f"the chart refuses it: {refused}"
        ) from None
    problems, notes = offlinecheck.launch_config_problems(rendered.launch_config, chart=chart)
    if problems:
        raise InputError("launch config", problems[0], "fix the inputs that feed this key")
    return notes


def write_atomically(path: str, text: str) -> None:
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        tmp.write_text(text)
        tmp.replace(target)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise InputError("--output-file", f"cannot write {path}: {e.strerror}", "pick a writable path") from None


def run(args: argparse.Namespace) -> int:
    from wandb_launch.chartvalues import find_chart

    cloud, raw, source = gather(args)
    resolved = cloudvalues.resolve(cloud, raw, source)
    notes = check(resolved, raw.keys(), source, find_chart(args.chart), args.helm_bin)
    text = cloudvalues.render(resolved, source.spec_path)
    if args.output_file == "-":
        sys.stdout.write(text)
    else:
        write_atomically(args.output_file, text)
        print(f"wrote {args.output_file} (cloud {cloud})", file=sys.stderr)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return 0
