"""`chorus`: the command-line client of the Chorus API.

    chorus login --url http://chorus.example --token chorus_…
    chorus components list --project payments
    chorus build payments/nightly --wait
    chorus deploy payments/nightly --env dev --schedule "0 2 * * *" --tz Europe/Berlin
    chorus promote payments/nightly --dst-rule every
    chorus policies payments/nightly --env dev --max-retries 2 --timeout 300
    chorus run payments/nightly --env dev --payload '{"dry_run": true}' --follow
    chorus logs 42 --follow

Every command takes --json (the API's own JSON on stdout). Errors are one line on stderr;
the exit code is 2 for a usage mistake and 1 for anything the server or network refused.
"""

from __future__ import annotations

import sys

from .client import CliError
from .commands import build_parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 with argparse's usage line on a usage mistake
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.handler(args) or 0
    except CliError as exc:
        print(f"chorus: error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("chorus: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # python -m portal.cli
    sys.exit(main())
