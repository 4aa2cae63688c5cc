"""Helper process for the concurrency test: waits for a go file, then saves."""

import sys
import time
from pathlib import Path

from openpipeline.core import Project, versions


def main() -> None:
    root, go, source, note = sys.argv[1:5]
    deadline = time.monotonic() + 60
    while not Path(go).exists():
        if time.monotonic() > deadline:
            sys.exit("no go signal")
        time.sleep(0.002)
    project = Project.open(root)
    record = versions.save_workshop(project.item("asset/prop/chair"), Path(source), note=note)
    print(record.version)


if __name__ == "__main__":
    main()
