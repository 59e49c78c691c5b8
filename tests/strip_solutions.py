"""Copy the notebooks without their solution cells, to prove unanswered exercises raise nothing.

``make notebooks-unsolved`` runs the copies under nbval (issue 13): every check, given the
learner's cells as shipped, must print what to do and raise nothing, and every prediction
left at None must be skipped without a word. A solution cell is one tagged "solution" or
starting with %%solution.

    python tests/strip_solutions.py notebooks/ OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def is_solution(cell: dict) -> bool:
    source = "".join(cell.get("source", ""))
    tags = cell.get("metadata", {}).get("tags", [])
    return cell["cell_type"] == "code" and ("solution" in tags or source.startswith("%%solution"))


def strip(source: Path, target: Path) -> int:
    """Write source without its solution cells to target; return how many were removed."""
    nb = json.loads(source.read_text(encoding="utf-8"))
    kept = [c for c in nb["cells"] if not is_solution(c)]
    removed = len(nb["cells"]) - len(kept)
    nb["cells"] = kept
    target.write_text(json.dumps(nb, indent=1, ensure_ascii=False), encoding="utf-8")
    return removed


def main(folder: str, out: str) -> int:
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(Path(folder).glob("[0-9][0-9]_*.ipynb")):
        removed = strip(path, out_dir / path.name)
        if not removed:
            print(f"{path.name}: no solution cell found", file=sys.stderr)
            return 1
        print(f"{path.name}: {removed} solution cells removed")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
