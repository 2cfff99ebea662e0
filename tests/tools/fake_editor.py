"""A stand-in for $EDITOR: replaces the file with the next text from a plan, logging what it saw.

The plan is a JSON list in the file named by $FAKE_EDITOR_PLAN; each run takes the next entry
and appends the text it was given to $FAKE_EDITOR_PLAN.seen (one JSON string per line).
"""

from __future__ import annotations

import json
import os
import sys

plan_path = os.environ["FAKE_EDITOR_PLAN"]
target = sys.argv[1]
with open(target, encoding="utf-8") as fh:
    given = fh.read()
with open(plan_path + ".seen", "a", encoding="utf-8") as fh:
    fh.write(json.dumps(given) + "\n")
with open(plan_path, encoding="utf-8") as fh:
    plan = json.load(fh)
count_path = plan_path + ".count"
count = int(open(count_path).read()) if os.path.exists(count_path) else 0
with open(count_path, "w") as fh:
    fh.write(str(count + 1))
entry = plan[count]
if entry == "FAIL":
    sys.exit(1)
with open(target, "w", encoding="utf-8") as fh:
    fh.write(entry)
