"""Record what each program in this folder achieves under real Lightning.

Run it with an interpreter that has Lightning installed (``lightning`` and ``pytorch_lightning``,
2.6.x; a separate venv, never lit's: Lightning is not a dependency of this repository)::

    /path/to/lightning-venv/bin/python tests/e2e/lightning_programs/record_lightning.py [name ...]

Each program runs unchanged, in a fresh temporary working directory, exactly as its author would
run it; its ``RESULT <json>`` line is written to ``expected/<name>.json`` under ``"lightning"``
together with the Lightning version. A program that fails under Lightning (the 1.x-era ones on
Lightning 2.x) is recorded with ``"lightning": null`` and the last line of its error. The
``"rules"`` part of an existing expectation file (which keys must match exactly, which within a
tolerance, which are informative) is written by hand and kept as it is.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXPECTED = HERE / "expected"


def programs() -> list[Path]:
    """The program files of the corpus (every ``*.py`` here but this script)."""
    return sorted(p for p in HERE.glob("*.py") if p.name != Path(__file__).name)


def run_program(path: Path, python: str = sys.executable, timeout: float = 300) -> tuple[dict | None, str]:
    """Run ``path`` in a fresh temporary directory; return its RESULT (or None) and its output tail."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([python, str(path)], cwd=tmp, capture_output=True, text=True, timeout=timeout)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        return None, (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
    return json.loads(lines[-1][len("RESULT "):]), ""


def main(names: list[str]) -> None:
    import lightning  # here, not at the top: fails early and clearly outside a Lightning venv

    EXPECTED.mkdir(exist_ok=True)
    for path in programs():
        if names and path.stem not in names:
            continue
        result, error = run_program(path)
        out = EXPECTED / f"{path.stem}.json"
        record = json.loads(out.read_text()) if out.exists() else {}
        record.update({"lightning_version": lightning.__version__, "lightning": result})
        if result is None:
            record["lightning_error"] = error
        else:
            record.pop("lightning_error", None)
        record.setdefault("rules", {"exact": [], "approx": {}, "info": []})
        out.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        print(f"{path.stem}: {'ok' if result is not None else 'FAILED: ' + error}")


if __name__ == "__main__":
    main(sys.argv[1:])
