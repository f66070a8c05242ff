"""Write the compose stack's ``.env`` from ``.env.example`` with generated secrets.

Usage: ``python3 docker/make_env.py TEMPLATE TARGET``. Every password and secret of the
template gets a fresh random value, the Airflow Fernet key a valid key (32 random bytes,
url-safe base64); other settings keep the template's value. An existing TARGET is never
overwritten. Standard library only, so it runs before any environment exists.
"""

from __future__ import annotations

import base64
import os
import secrets
import sys
from pathlib import Path

SECRET_SUFFIXES = ("_PASSWORD", "_SECRET")


def fernet_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def render(template: str) -> str:
    lines = []
    for line in template.splitlines():
        key, sep, _ = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            if key == "AIRFLOW_FERNET_KEY":
                line = f"{key}={fernet_key()}"
            elif key.endswith(SECRET_SUFFIXES):
                line = f"{key}={secrets.token_urlsafe(24)}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    template, target = Path(argv[0]), Path(argv[1])
    if target.exists():
        print(f"{target} exists: left as it is (delete it to generate new secrets)")
        return 0
    target.write_text(render(template.read_text()))
    target.chmod(0o600)
    print(f"wrote {target} with generated secrets (Fernet key, JWT secret, passwords)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
