"""report.html as a browser shows it: headless Chromium (Debian's ``chromium``; CI installs it).

Two checks a string search cannot make: every ``<img>`` (curves and example images, all
``data:`` URIs) decodes to a real picture (``naturalWidth > 0``), and the health banner is drawn
above everything else, in its warning colour, on the screenshot.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from fake_run import make_degenerate_run
from PIL import Image

from mmrft.report.html import write_report

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH (apt-get install -y chromium; CI installs it)"
)

# Appended to a copy of the page (the report itself has no JavaScript): after load, write what
# the browser made of each image and of the layout into the DOM, where --dump-dom shows it.
PROBE = """<script>
window.addEventListener('load', () => {
  const top = el => el.getBoundingClientRect().top;
  const out = {
    images: [...document.images].map(i => ({cls: i.className, alt: i.alt,
      complete: i.complete, w: i.naturalWidth, h: i.naturalHeight})),
    health_top: top(document.getElementById('health')),
    sections_top: Math.min(...[...document.querySelectorAll('section')].map(top)),
  };
  const pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",  # never share a profile with another run
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    return write_report(make_degenerate_run(tmp_path_factory.mktemp("chromium") / "run"))


def test_every_curve_and_example_image_loads(report, tmp_path):
    probe = tmp_path / "probe.html"
    probe.write_text(report.read_text().replace("</body>", PROBE + "</body>"))
    dom = chromium(tmp_path, "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()).stdout
    match = re.search(r"<pre id=\"probe\">(.*?)</pre>", dom, re.S)
    assert match, f"the probe did not run; DOM starts: {dom[:300]}"
    found = json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    images = found["images"]
    plots = [i for i in images if i["cls"] == "plot"]
    examples = [i for i in images if i["cls"] == "example"]
    # curves: the evaluation figure + one per namespace (actor, health, reward, ...)
    assert len(plots) >= 4 and any(i["alt"] == "evaluation curves" for i in plots)
    assert len(examples) == 3
    for img in images:  # each decoded: a broken data URI would give naturalWidth 0
        assert img["complete"] and img["w"] > 0 and img["h"] > 0, img
    assert {(i["w"], i["h"]) for i in examples} == {(32, 32)}  # the run's own 32x32 images
    assert found["health_top"] < found["sections_top"]  # the banner above every section


def test_screenshot_shows_banner_on_top_and_curves(report, tmp_path):
    shot = tmp_path / "report.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2400", report.as_uri())
    img = Image.open(shot).convert("RGB")
    width, height = img.size
    assert (width, height) == (1280, 2400)
    px = img.load()

    def rows_with(colour_test, x_step: int = 4) -> list[int]:
        return [
            y for y in range(height) if any(colour_test(px[x, y]) for x in range(0, width, x_step))
        ]

    # The banner's border #e65100 (230, 81, 0): the first orange rows lie in the top 300 px
    orange = rows_with(lambda p: p[0] > 200 and 60 < p[1] < 110 and p[2] < 40)
    assert orange and orange[0] < 300, orange[:3]
    # The evaluation curves: greedy accuracy in matplotlib's C1 orange #ff7f0e (255, 127, 14),
    # a colour neither the banner nor the example images use, drawn below the banner
    c1 = rows_with(lambda p: p[0] > 235 and abs(p[1] - 127) < 20 and p[2] < 45)
    assert len(c1) > 20 and c1[0] > orange[-1], (c1[:3], orange[-1])
