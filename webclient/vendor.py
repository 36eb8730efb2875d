"""Third-party browser files, served from webclient/node_modules (installed by `make js`, never committed).

Only the files named here are served; nothing is loaded from a CDN at run time.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Where `make js` installs the packages (a checkout); EXAM_ENGINE_NODE_MODULES overrides it (an installed package).
NODE_MODULES = Path(__file__).resolve().parent / "node_modules"

#: URL name -> path under node_modules.
VENDOR_FILES = {
    "socket.io.esm.min.js": "socket.io-client/dist/socket.io.esm.min.js",
    "chart.umd.min.js": "chart.js/dist/chart.umd.min.js",
}


def vendor_path(name: str) -> Path | None:
    """The file behind a vendor URL name, or None when unknown or not installed."""
    rel = VENDOR_FILES.get(name)
    if rel is None:
        return None
    base = Path(os.environ["EXAM_ENGINE_NODE_MODULES"]) if os.environ.get("EXAM_ENGINE_NODE_MODULES") else NODE_MODULES
    path = base / rel
    return path if path.is_file() else None


def missing_vendor_files() -> list[str]:
    """Vendor files that are not installed (the pages say so instead of failing)."""
    return [name for name in VENDOR_FILES if vendor_path(name) is None]
