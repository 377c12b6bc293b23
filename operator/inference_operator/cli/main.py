"""`inference-operator`: run the operator, print the CRDs, render a resource's manifests, advise on the engine."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from .. import __version__
from ..api.crdgen import render_crds
from ..api.settings import SettingsError, from_env
from .advise import add_advise_parser
from .render import cmd_render


def _cmd_crd(_: argparse.Namespace) -> int:

    sys.stdout.write(render_crds())
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from ..runtime.stop_signal import StopSignal  # noqa: PLC0415 - only `run` handles signals

    stop = StopSignal().install()  # first: a SIGTERM during the imports and setup below also ends with 0
    from ..runtime.operator import run  # noqa: PLC0415 - kopf's import is only needed to run, not to render

    try:
        settings = from_env()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    run(
        settings,
        namespaces=args.namespace or [],
        clusterwide=args.all_namespaces or not args.namespace,
        peering=args.peering,
        priority=args.priority,
        verbose=args.verbose,
        log_format=args.log_format,
        stop=stop,
    )
    return 0


class _OneLineParser(argparse.ArgumentParser):
    """Bad options give one line on stderr, not the usage block, and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message}\n")


def build_parser() -> argparse.ArgumentParser:

    parser = _OneLineParser(
        prog="inference-operator",
        description="Serve LLMs on Kubernetes with vLLM or TensorRT-LLM.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the operator (in-cluster config, else the current kubeconfig)")
    scope = run.add_mutually_exclusive_group()
    scope.add_argument("--namespace", "-n", action="append", metavar="NS", help="watch this namespace (repeatable)")
    scope.add_argument("--all-namespaces", "-A", action="store_true", help="watch every namespace (the default)")
    run.add_argument("--peering", metavar="NAME", help="run with kopf peering NAME: one active replica, others standby")
    run.add_argument(
        "--priority",
        type=int,
        help="peering priority: the highest live replica works, the others wait (default: the earliest started)",
    )
    run.add_argument("--verbose", "-v", action="store_true", help="debug logging")
    run.add_argument("--log-format", choices=["plain", "full", "json"], default="full", help="log line format")
    run.set_defaults(func=_cmd_run)

    crd = sub.add_parser("crd", help="print the CustomResourceDefinitions (exactly what is in crds/)")
    crd.set_defaults(func=_cmd_crd)

    render = sub.add_parser("render", help="print the manifests the operator would apply for a resource")
    render.add_argument(
        "-f",
        "--file",
        required=True,
        action="append",
        dest="files",
        metavar="FILE",
        help="an InferenceDeployment YAML file ('-' for stdin); repeat for several resources",
    )
    render.add_argument(
        "--engine-builds",
        action="store_true",
        help="only the EngineBuilds the resources need (one per engine key), to apply ahead of them (precompile)",
    )
    render.add_argument("-o", "--output", choices=["yaml", "json"], default="yaml")
    render.add_argument("--namespace", "-n", default="default", help="namespace when the file names none")
    render.add_argument(
        "--no-pod-monitor", action="store_true", help="as on a cluster without the monitoring.coreos.com API"
    )
    render.set_defaults(func=cmd_render)

    add_advise_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
