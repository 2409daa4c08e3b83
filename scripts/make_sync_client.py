"""Generate the sync client from the async one: src/ohm/client/_async/ -> src/ohm/client/_sync/.

    python scripts/make_sync_client.py           # write the sync files
    python scripts/make_sync_client.py --check   # fail when they are not what the async files make

The async client is the only one written by hand; tests/test_client_contract.py runs --check.
"""

from __future__ import annotations

import argparse
import difflib
import sys
import tempfile
from pathlib import Path

import unasync

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "ohm" / "client" / "_async"
TARGET = ROOT / "src" / "ohm" / "client" / "_sync"
HEADER = "# Generated from ../_async/{name} by scripts/make_sync_client.py: edit that file, then run the script.\n"
REPLACEMENTS = {
    "AsyncOhmClient": "OhmClient",
    "AsyncClient": "Client",
    "AsyncBaseTransport": "BaseTransport",
    "aconnect_sse": "connect_sse",
    "aiter_sse": "iter_sse",
    "aclose": "close",
    "aread": "read",
    "_sleep_async": "_sleep_sync",
}


def generate(into: Path) -> dict[str, str]:
    """The sync files made from the async ones, by name (written under ``into``)."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "_async"
        work.mkdir()
        files = []
        for path in sorted(SOURCE.glob("*.py")):
            (work / path.name).write_text(path.read_text())
            files.append(str(work / path.name))
        unasync.unasync_files(files, [unasync.Rule("/_async/", "/_sync/", additional_replacements=REPLACEMENTS)])
        out = {}
        for path in sorted((Path(tmp) / "_sync").glob("*.py")):
            text = path.read_text()
            out[path.name] = (HEADER.format(name=path.name) + text) if text else text
    into.mkdir(parents=True, exist_ok=True)
    for name, text in out.items():
        (into / name).write_text(text)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    if not args.check:
        generate(TARGET)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        made = generate(Path(tmp))
    stale = False
    for name, text in made.items():
        current = (TARGET / name).read_text() if (TARGET / name).exists() else ""
        if current != text:
            stale = True
            sys.stdout.writelines(difflib.unified_diff(current.splitlines(True), text.splitlines(True),
                                                       f"_sync/{name} (committed)", f"_sync/{name} (generated)"))
    if stale:
        print("\nthe sync client is not what the async one makes: run python scripts/make_sync_client.py")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
