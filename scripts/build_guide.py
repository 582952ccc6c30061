"""Writes the page's static copy of the offline first-aid guide, from the function's own topic files.

``python scripts/build_guide.py [SITE_DIR]`` (default: ``static_site``) writes ``SITE_DIR/guide.json``,
which the page's service worker caches so the guide opens with no network. The topics come from
the function's loader (``firstaid_chat.offline.knowledge.load_topics``), so the page shows exactly
what the function answers offline, validated by the same rules; the file is generated (git-ignored),
never edited by hand. Only the fields the page shows are copied: fields the loader adds later are
left out until the page knows what to do with them.

Shape: ``{"format": 1, "placeholder": "{emergency_number}", "topics": [{"slug", "title",
"life_threatening", "keywords", "steps", "do_not", "call_emergency_when", "sources"}, ...]}``,
life-threatening topics first, then by title. Steps keep the ``{emergency_number}`` placeholder;
the page fills in the number it was configured with.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ROOT / "functions"
GUIDE_FILE = "guide.json"
GUIDE_FORMAT = 1
TEXT_FIELDS = ("title", "slug")
LIST_FIELDS = ("keywords", "steps", "do_not", "call_emergency_when", "sources")


def guide_document(topics: Iterable[Any], placeholder: str) -> dict[str, Any]:
    """The guide as the page reads it, from the loader's topic objects (read by attribute)."""
    entries = [
        {
            **{name: str(getattr(topic, name)) for name in TEXT_FIELDS},
            "life_threatening": bool(topic.life_threatening),
            **{name: [str(item) for item in getattr(topic, name)] for name in LIST_FIELDS},
        }
        for topic in topics
    ]
    entries.sort(key=lambda entry: (not entry["life_threatening"], entry["title"].casefold()))
    return {"format": GUIDE_FORMAT, "placeholder": placeholder, "topics": entries}


def build_guide(site_dir: Path, topics_dir: Path | None = None) -> Path:
    """Write ``site_dir/guide.json`` from the function's topic files (or ``topics_dir``); returns its path.

    Raises ValueError (from the loader) naming the file when a topic file is invalid; nothing is written then.
    """
    if str(FUNCTIONS) not in sys.path:
        sys.path.insert(0, str(FUNCTIONS))
    from firstaid_chat.offline.knowledge import EMERGENCY_NUMBER_PLACEHOLDER, load_topics

    document = guide_document(load_topics(topics_dir), EMERGENCY_NUMBER_PLACEHOLDER)
    path = site_dir / GUIDE_FILE
    path.write_text(json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("site_dir", nargs="?", type=Path, default=ROOT / "static_site")
    args = parser.parse_args()
    try:
        path = build_guide(args.site_dir)
    except ValueError as error:
        print(f"build_guide: {error}", file=sys.stderr)
        return 1
    count = len(json.loads(path.read_text(encoding="utf-8"))["topics"])
    print(f"Wrote {path} ({count} topics)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
