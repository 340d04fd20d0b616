"""For tests (and tools/report_screenshot.py) that look at a results page as people do: two
real runs of a plugin that regressed, and headless Chromium from the system's packages.

Chromium and its driver come from Debian (`apt-get install -y chromium chromium-driver`);
selenium drives them. Where they are missing a test skips, with the reason, except under CI
(the CI environment variable set), where it fails: CI must open the page.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)

GOOD = "from broken_backends import Bugged\n\nbackend = Bugged('mylib')\n"
REGRESSED = (
    "from broken_backends import Bugged, swap_layers\n"
    "from broken_backends.relu_discarded import discard_relu\n\n"
    "backend = Bugged('mylib', network_bug=swap_layers('ReLU', discard_relu))\n"
)
"""`mylib`, a manual NumPy plugin, before and after seed 002's bug (relu's result dropped)."""

RUN = ("--case", "relu-mixed-signs", "--case", "task1-forward", "--backend", "numpy")


def harness_run(directory: Path, plugin: str, name: str) -> Path:
    """`harness run` with `mylib` installed as `plugin`; the run's JSON."""
    site = directory / f"site-{name}"
    dist = site / "xp_mylib-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: xp-mylib\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[harness.backends]\nmylib = mylib_backend:backend\n")
    (site / "mylib_backend.py").write_text(plugin)
    out = directory / f"{name}.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(TESTS)])}
    command = [sys.executable, "-m", "harness.cli", "run", *RUN, "--backend", "mylib"]
    subprocess.run(
        [*command, "--json", str(out)], env=env, cwd=directory, capture_output=True, timeout=300
    )
    assert out.is_file(), f"harness run wrote no {out}"
    return out


def two_runs(directory: Path) -> tuple[Path, Path]:
    """Monday's run, where mylib passes, and Tuesday's, where it fails relu-mixed-signs."""
    return harness_run(directory, GOOD, "monday"), harness_run(directory, REGRESSED, "tuesday")


@contextmanager
def chromium(width: int = 1300, height: int = 1000) -> Iterator:
    """A selenium driver of headless Chromium with a fresh profile, quit afterwards."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("selenium (pip install selenium)")
    if missing:
        why = f"no headless browser: missing {', '.join(missing)}"
        if os.environ.get("CI"):
            pytest.fail(f"{why}; CI must open the page (.ci/run installs them)")
        pytest.skip(why)
    profile = tempfile.mkdtemp(prefix="xp-harness-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
