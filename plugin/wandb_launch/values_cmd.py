"""`values`: resolve per-cloud chart values from flags or a spec, check them with the SDK, write them."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from wandb_launch import cloudvalues
from wandb_launch.errors import InputError

HELP = "write a values file for the chart from a few per-cloud inputs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cloud", choices=None, help=f"one of {', '.join(cloudvalues.CLOUDS)} (or key 'cloud' in the spec)"
    )
    parser.add_argument("--spec", help="a small YAML spec with the inputs below as keys (flags override it)")
    parser.add_argument("-o", "--output-file", default="-", help="where to write the values (default: stdout)")
    seen: set[str] = set()
    groups = {
        "gke": cloudvalues.GKE_FIELDS,
        "eks": cloudvalues.EKS_FIELDS,
        "aks": cloudvalues.AKS_FIELDS,
        "any cloud": cloudvalues.URI_FIELDS,
        "common": cloudvalues.COMMON_FIELDS,
    }
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


def _dest(fld: cloudvalues.Field) -> str:
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
        raise InputError(where, "no cloud given", f"give --cloud {'|'.join(cloudvalues.CLOUDS)}")
    return str(cloud), raw, source


def check_with_sdk(resolved: cloudvalues.Resolved, source: cloudvalues.Source) -> list[str]:
    """Every resolved URI by the SDK's rules, then the whole launch config by `AgentConfig`."""
    from wandb_launch import sdkcheck, selfcheck
    from wandb_launch.chartvalues import launch_config

    builder = resolved.values["launchConfig"]["builder"]
    if resolved.cloud != "local":
        dest_field = cloudvalues.ALL_FIELDS["destination"]
        store_field = cloudvalues.ALL_FIELDS["build-context-store"]
        sdkcheck.check_destination(builder["destination"], resolved.cloud, source.name(dest_field))
        sdkcheck.check_build_context_store(builder["buildContextStore"], resolved.cloud, source.name(store_field))
    config, notes = selfcheck.resolve_launch_config(launch_config(resolved.values), {})
    problems = selfcheck.agent_config_problems(config)
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
    cloud, raw, source = gather(args)
    resolved = cloudvalues.resolve(cloud, raw, source)
    notes = check_with_sdk(resolved, source)
    text = cloudvalues.render(resolved, source.spec_path)
    if args.output_file == "-":
        sys.stdout.write(text)
    else:
        write_atomically(args.output_file, text)
        print(f"wrote {args.output_file} (cloud {cloud})", file=sys.stderr)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return 0
