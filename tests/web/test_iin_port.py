"""The web app's IIN check (web/src/kz.ts, run by the Node in .venv) gives the identity
service's verdict (identity/iin.py) on every kind of number: valid ones, each broken
digit, impossible dates and centuries, numbers no check digit fits. The resident is told
about a mistake as they type exactly when the API would refuse the number."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

from identity.iin import iin_problem
from portal_shared.kz import check_digit

ROOT = Path(__file__).resolve().parents[2]
NODE = Path(sys.executable).parent / "node"
# Node runs the TypeScript module as it is (its types stripped).
SCRIPT = """
import { iinProblem } from "./web/src/kz.ts";
let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", () => console.log(JSON.stringify(JSON.parse(input).map(iinProblem))));
"""


def numbers() -> list[str]:
    rng = random.Random(21)
    found: list[str] = []
    for _ in range(3000):
        first = f"{rng.randrange(100):02d}{rng.randrange(1, 14):02d}{rng.randrange(1, 33):02d}"
        first += f"{rng.randrange(0, 8)}{rng.randrange(10000):04d}"
        digit = check_digit(first)
        found.append(
            first + str(digit if digit is not None and rng.random() < 0.7 else rng.randrange(10))
        )
    return [*found, "", "12345", "9001013000011", "90010130000a", "900101300001"]


def test_the_browser_and_identity_agree_on_every_iin() -> None:
    cases = numbers()
    result = subprocess.run(
        [str(NODE), "--input-type=module", "-e", SCRIPT],
        input=json.dumps(cases),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    verdicts = json.loads(result.stdout)
    disagree = [
        (iin, ts, iin_problem(iin))
        for iin, ts in zip(cases, verdicts, strict=True)
        if (ts is None) != (iin_problem(iin) is None)
    ]
    assert disagree == []
    assert sum(v is None for v in verdicts) > 500  # plenty of valid numbers among them
