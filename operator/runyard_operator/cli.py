"""`runyard-operator`: run the operator, or show what it would apply.

    runyard-operator run [--verbose] [--liveness http://0.0.0.0:8080/healthz] [--log-format json|plain]
    runyard-operator render -f instance.yaml [--namespace NS]   the manifests of one TrackerInstance
    runyard-operator crd                                        the CustomResourceDefinition (YAML)

`run` watches the namespaces in RUNYARD_OPERATOR_NAMESPACES (every namespace when empty); the other
settings are RUNYARD_OPERATOR_* too (docs/operator.md).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import yaml

__all__ = ["main"]


class _Plain(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump(obj: Any) -> str:
    return yaml.dump(obj, Dumper=_Plain, sort_keys=False, width=120)


def _run(args: argparse.Namespace) -> int:
    import kopf

    from . import main as entry  # registers the handlers and reads the settings

    entry.CONFIG.check()
    fmt = {"json": kopf.LogFormat.JSON, "plain": kopf.LogFormat.PLAIN}[args.log_format]
    kopf.configure(verbose=args.verbose, log_format=fmt)
    namespaces = entry.CONFIG.watched_namespaces
    kopf.run(standalone=True, clusterwide=not namespaces, namespaces=namespaces,
             liveness_endpoint=args.liveness or None)
    return 0


def _render(args: argparse.Namespace) -> int:
    from .config import load_config
    from .errors import SpecError
    from .render import render
    from .schema import apply_defaults, spec_schema, validate_spec

    with open(args.file) as fh:
        body = yaml.safe_load(fh)
    if not isinstance(body, dict) or body.get("kind") != "TrackerInstance":
        print(f"{args.file}: not a TrackerInstance", file=sys.stderr)
        return 2
    name = body["metadata"]["name"]
    namespace = args.namespace or body["metadata"].get("namespace") or "default"
    spec = apply_defaults(spec_schema(), body.get("spec") or {})
    problems = validate_spec(spec)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    config = load_config()
    try:
        rendered = render(spec, name=name, namespace=namespace, chart=config.chart, helm=config.helm)
    except SpecError as exc:
        print(exc.message, file=sys.stderr)
        return 1
    docs = [*(h.obj for h in rendered.hooks), *rendered.objects]
    sys.stdout.write("---\n".join(dump(d) for d in docs))
    return 0


def _crd(args: argparse.Namespace) -> int:
    from .schema import crd

    sys.stdout.write(dump(crd()))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="runyard-operator", description="The Runyard TrackerInstance operator.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the operator (RUNYARD_OPERATOR_* settings, docs/operator.md)")
    run.add_argument("--verbose", action="store_true", help="debug logging")
    run.add_argument("--liveness", default="", help="kopf liveness endpoint, e.g. http://0.0.0.0:8080/healthz")
    run.add_argument("--log-format", choices=["json", "plain"], default="json", help="log line format")
    run.set_defaults(func=_run)
    ren = sub.add_parser("render", help="print the manifests the operator applies for a TrackerInstance")
    ren.add_argument("-f", "--file", required=True, help="a TrackerInstance YAML file")
    ren.add_argument("--namespace", default="", help="namespace (default: the file's, else default)")
    ren.set_defaults(func=_render)
    c = sub.add_parser("crd", help="print the TrackerInstance CustomResourceDefinition")
    c.set_defaults(func=_crd)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
