"""Fail loudly when the venv holds a package version that constraints.txt did not test.

Every installed distribution (except mmrft itself and pip's own tooling) must appear in
constraints.txt at exactly the installed version. A new transitive dependency, or one that
resolved to another version, is listed by name; refresh with `make lock` (see README).
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

TOOLING = {"pip", "setuptools", "wheel", "mmrft"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[canonical(name)] = version.strip()
    return pins


def main() -> int:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "constraints.txt")
    pins = read_pins(path)
    drift = []
    for dist in metadata.distributions():
        name = canonical(dist.metadata["Name"])
        if name in TOOLING:
            continue
        if name not in pins:
            drift.append(f"{name}=={dist.version} is installed but not pinned in {path}")
        elif pins[name] != dist.version:
            drift.append(f"{name}=={dist.version} is installed; {path} pins {pins[name]}")
    if drift:
        print(f"DEPENDENCY DRIFT: {len(drift)} package(s) differ from the tested set:")
        print("\n".join(f"  {d}" for d in sorted(drift)))
        print("Run `make lock` to test and pin the new set, or install with -c constraints.txt.")
        return 1
    print(f"dependency pins ok: {len(pins)} pinned, installed versions match {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
