"""Make docs/report.png, the results page the README shows, as a reader first sees it.

    python tools/report_screenshot.py      # about 20 seconds; needs Chromium (see below)

Two real runs of `mylib`, a manual NumPy plugin, before and after seed 002's bug (relu's
result dropped), made into one page by `harness report`; headless Chromium (Debian's chromium
and chromium-driver, driven by selenium, as tests/test_page.py drives it) opens it, clicks the
first failing cell so that its report opens, and takes the screenshot.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from report_pages import chromium, two_runs  # noqa: E402

OUT = ROOT / "docs" / "report.png"


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        old, new = two_runs(Path(scratch))
        page = Path(scratch) / "report.html"
        command = [sys.executable, "-m", "harness.cli", "report", str(old), str(new)]
        subprocess.run([*command, "--html", str(page)], check=True, cwd=scratch)
        with chromium(width=1100, height=1150) as browser:
            browser.get(page.as_uri())
            browser.find_element("css selector", "#result-1 td.cell[data-status='fail'] a").click()
            browser.execute_script("window.scrollTo(0, 0)")
            browser.save_screenshot(str(OUT))
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
