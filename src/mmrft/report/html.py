"""One self-contained HTML page describing a run directory: ``write_report(run_dir)``.

Reads what a run leaves behind and shows each part it finds:

=================  =====================================================================
summary.json       every key as a table; ``X_before``/``X_after`` pairs side by side
evals.jsonl        accuracy (and other eval metrics) against RL step, plus the numbers
metrics.jsonl      every numeric per-step key that varies, small multiples per namespace
examples.jsonl     image cards: answer, completion before and after, coloured by correctness
config.yaml        verbatim
=================  =====================================================================

Design choices: the page is one file (plots and images are base64 ``data:`` URIs, CSS inline,
no JavaScript, no network), so it can be attached, mailed or opened from a laptop without the
run directory. A missing file gives a note on the page; a malformed one gives a note too (and a
log warning) rather than an exception, because the report is written at the end of a run that
should not fail over its own report.
"""

from __future__ import annotations

import base64
import datetime
import html
import json
import logging
import math
import mimetypes
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mmrft.report import plots

logger = logging.getLogger(__name__)

CORRECT_REWARD = 0.5
"""An example counts as correct when its reward exceeds this (if it has no ``correct_*`` key).

Rewards are 0/1 accuracy, possibly plus a small format bonus or minus a small penalty; halfway
separates right from wrong answers under all of those schemes.
"""


def write_report(run_dir: str | Path) -> Path:
    """Build ``run_dir/report.html`` from the files in ``run_dir`` and return its path."""
    run_dir = Path(run_dir)
    out = run_dir / "report.html"
    out.write_text(build_report(run_dir), encoding="utf-8")
    logger.info("wrote %s", out)
    return out


def build_report(run_dir: Path) -> str:
    """The report page for ``run_dir`` as an HTML string."""
    sections: list[tuple[str, Callable[[Path], str]]] = [
        ("Summary", _summary_section),
        ("Evaluations", _evals_section),
        ("Training metrics", _metrics_section),
        ("Examples", _examples_section),
        ("Config", _config_section),
    ]
    body = []
    for title, render in sections:
        try:
            content = render(run_dir)
        except Exception as e:  # a report must never take a finished run down with it
            logger.warning("report section %r failed: %s", title, e, exc_info=True)
            content = _note(f"Could not render this section: {type(e).__name__}: {e}")
        body.append(f"<section><h2>{html.escape(title)}</h2>\n{content}\n</section>")
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    name = html.escape(run_dir.resolve().name)
    return _PAGE.format(
        title=name,
        header=f"<h1>{name}</h1><p class='sub'>{html.escape(str(run_dir))} &middot; "
        f"report generated {stamp}</p>",
        body="\n".join(body),
    )


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------


def _summary_section(run_dir: Path) -> str:
    path = run_dir / "summary.json"
    if not path.is_file():
        return _missing(path)
    summary = json.loads(path.read_text())
    if not isinstance(summary, dict):
        return _note(f"summary.json holds a {type(summary).__name__}, expected an object.")
    paired = [k[: -len("_before")] for k in summary if k.endswith("_before")]
    paired = [k for k in paired if f"{k}_after" in summary]
    rows = []
    if paired:
        rows.append("<tr><th>metric</th><th>before</th><th>after</th><th>change</th></tr>")
        for key in paired:
            before, after = summary[f"{key}_before"], summary[f"{key}_after"]
            change = _fmt_change(before, after)
            rows.append(
                f"<tr><td>{html.escape(key)}</td><td class='num'>{_fmt(before)}</td>"
                f"<td class='num strong'>{_fmt(after)}</td><td class='num'>{change}</td></tr>"
            )
    used = {f"{k}_{s}" for k in paired for s in ("before", "after")}
    rest = [k for k in summary if k not in used]
    if rest:
        rows.append("<tr><th>key</th><th colspan='3'>value</th></tr>")
        for key in rest:
            rows.append(
                f"<tr><td>{html.escape(key)}</td>"
                f"<td class='num' colspan='3'>{_fmt(summary[key], key)}</td></tr>"
            )
    return "<table class='summary'>" + "\n".join(rows) + "</table>"


def _evals_section(run_dir: Path) -> str:
    path = run_dir / "evals.jsonl"
    if not path.is_file():
        return _missing(path)
    evals, bad = _read_jsonl(path)
    if not evals:
        return _note("evals.jsonl has no readable evaluations.") + _bad_lines(bad, path)
    fig = plots.eval_figure(evals)
    parts = [_img(plots.to_data_uri(fig), "evaluation curves")] if fig is not None else []
    keys = list(dict.fromkeys(k for row in evals for k in row))
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    body = "".join(
        "<tr>" + "".join(f"<td class='num'>{_fmt(row.get(k, ''))}</td>" for k in keys) + "</tr>"
        for row in evals
    )
    parts.append(f"<table class='data'><tr>{head}</tr>{body}</table>")
    return "\n".join(parts) + _bad_lines(bad, path)


def _metrics_section(run_dir: Path) -> str:
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return _missing(path)
    rows, bad = _read_jsonl(path)
    series = plots.numeric_series(rows)
    moving = plots.varying(series)
    if not moving:
        return _note(f"metrics.jsonl has {len(rows)} rows but no varying numeric key.")
    parts = [f"<p class='sub'>{len(rows)} steps logged.</p>"]
    for ns, keys in plots.group_by_namespace(moving).items():
        fig = plots.small_multiples({k: moving[k] for k in keys})
        img = _img(plots.to_data_uri(fig), ns)
        parts.append(f"<div class='ns'><h3>{html.escape(ns)}</h3>{img}</div>")
    constants = {k: s[1][0] for k, s in series.items() if k not in moving}
    if constants:
        items = ", ".join(f"{html.escape(k)} = {_fmt(v)}" for k, v in sorted(constants.items()))
        parts.append(f"<p class='sub'>Constant throughout: {items}.</p>")
    return "\n".join(parts) + _bad_lines(bad, path)


def _examples_section(run_dir: Path) -> str:
    path = run_dir / "examples.jsonl"
    if not path.is_file():
        return _missing(path)
    examples, bad = _read_jsonl(path)
    cards = [_example_card(run_dir, ex) for ex in examples]
    legend = (
        "<p class='sub'><span class='tag ok'>correct</span> <span class='tag bad'>wrong</span> "
        "the same held-out problems, answered before and after RL.</p>"
    )
    return legend + "<div class='grid'>" + "\n".join(cards) + "</div>" + _bad_lines(bad, path)


def _example_card(run_dir: Path, ex: dict[str, Any]) -> str:
    image = ex.get("image")
    if isinstance(image, list):  # several images: show the first
        image = image[0] if image else None
    img = _note("no image")
    if isinstance(image, str):
        img_path = run_dir / image
        if img_path.is_file():
            img = _img(_file_data_uri(img_path), image, cls="example")
        else:
            img = _note(f"image missing: {image}")
    parts = [f"<div class='card'>{img}"]
    if ex.get("prompt"):
        parts.append(f"<p class='prompt'>{html.escape(str(ex['prompt']))}</p>")
    parts.append(f"<p><b>answer:</b> <code>{html.escape(str(ex.get('answer', '?')))}</code></p>")
    for when in ("before", "after"):
        completion = ex.get(f"completion_{when}")
        if completion is None:
            continue
        reward = ex.get(f"reward_{when}")
        correct = ex.get(f"correct_{when}")
        if not isinstance(correct, bool):
            correct = reward > CORRECT_REWARD if plots.is_number(reward) else None
        cls = {True: "ok", False: "bad", None: "unknown"}[correct]
        reward_txt = (
            f" <span class='reward'>reward {_fmt(reward)}</span>" if reward is not None else ""
        )
        parts.append(
            f"<div class='completion {cls}'><b>{when}</b>{reward_txt}"
            f"<pre>{html.escape(str(completion))}</pre></div>"
        )
    return "".join(parts) + "</div>"


def _config_section(run_dir: Path) -> str:
    path = run_dir / "config.yaml"
    if not path.is_file():
        return _missing(path)
    return f"<pre class='config'>{html.escape(path.read_text())}</pre>"


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _read_jsonl(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The JSON objects of a JSONL file, and how many non-blank lines were not one."""
    rows, bad = [], 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        if isinstance(row, dict):
            rows.append(row)
        else:
            bad += 1
    if bad:
        logger.warning("%s: skipped %d unreadable lines", path, bad)
    return rows, bad


def _fmt(value: Any, key: str = "") -> str:
    """A value for a table cell, escaped: 4 significant digits, durations also as h/m/s."""
    if value is None:
        return "&ndash;"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        text = f"{value:,.1f}" if math.isfinite(value) and abs(value) >= 1e4 else f"{value:.4g}"
    elif isinstance(value, (dict, list)):
        return f"<code>{html.escape(json.dumps(value))}</code>"
    else:
        return html.escape(str(value))
    if key.endswith(("seconds", "_s")) and value > 60:
        text += f" ({_duration(float(value))})"
    return text


def _fmt_change(before: Any, after: Any) -> str:
    if not (plots.is_number(before) and plots.is_number(after)):
        return ""
    delta = after - before
    cls = "up" if delta > 0 else "down" if delta < 0 else ""
    return f"<span class='{cls}'>{delta:+.4g}</span>"


def _duration(seconds: float) -> str:
    h, rem = divmod(int(round(seconds)), 3600)
    m, s = divmod(rem, 60)
    return f"{h}h {m:02d}m" if h else f"{m}m {s:02d}s"


def _file_data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _img(src: str, alt: str, cls: str = "plot") -> str:
    return f"<img class='{cls}' src='{src}' alt='{html.escape(alt, quote=True)}'>"


def _note(text: str) -> str:
    return f"<p class='note'>{html.escape(text)}</p>"


def _missing(path: Path) -> str:
    return _note(f"No {path.name} in this run directory; section skipped.")


def _bad_lines(bad: int, path: Path) -> str:
    return _note(f"{bad} unreadable lines in {path.name} were skipped.") if bad else ""


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} &middot; mmrft report</title>
<style>
body {{ font: 14px/1.45 -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       color: #222; max-width: 1400px; margin: 0 auto; padding: 1.5em 2em; background: #fafafa; }}
h1 {{ margin-bottom: 0.1em; }} h2 {{ border-bottom: 2px solid #ddd; padding-bottom: 0.2em; }}
h3 {{ margin: 1em 0 0.3em; color: #555; }}
.ns {{ display: inline-block; vertical-align: top; margin-right: 1.5em; }}
section {{ margin-bottom: 2.5em; }}
.sub {{ color: #666; margin-top: 0; }}
.note {{ color: #8a6d3b; background: #fcf8e3; border: 1px solid #faebcc; padding: 0.4em 0.8em;
        border-radius: 4px; display: inline-block; }}
table {{ border-collapse: collapse; background: white; margin: 0.5em 0; }}
th, td {{ border: 1px solid #e3e3e3; padding: 0.3em 0.8em; text-align: left; }}
th {{ background: #f0f0f0; font-weight: 600; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
td.strong {{ font-weight: 600; }}
.up {{ color: #2e7d32; }} .down {{ color: #c62828; }}
table.data {{ font-size: 12px; }}
img.plot {{ max-width: 100%; background: white; border: 1px solid #eee; }}
.grid {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 1em; }}
.card {{ background: white; border: 1px solid #ddd; border-radius: 6px; padding: 0.7em; }}
.card p {{ margin: 0.3em 0; }}
img.example {{ width: 100%; image-rendering: pixelated; border-radius: 4px; }}
.prompt {{ color: #555; font-size: 12px; }}
.completion {{ border-left: 4px solid #bbb; padding: 0.2em 0.5em; margin: 0.4em 0;
              background: #f6f6f6; }}
.completion pre {{ margin: 0.2em 0 0; white-space: pre-wrap; word-break: break-word; }}
.completion.ok, .tag.ok {{ border-color: #2e7d32; background: #e8f5e9; }}
.completion.bad, .tag.bad {{ border-color: #c62828; background: #ffebee; }}
.tag {{ border-left: 4px solid; padding: 0 0.4em; }}
.reward {{ float: right; color: #666; font-size: 12px; }}
pre.config {{ background: white; border: 1px solid #ddd; padding: 1em; overflow-x: auto;
             font-size: 12px; }}
</style></head>
<body>
{header}
{body}
</body></html>
"""


if __name__ == "__main__":
    import sys

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for arg in sys.argv[1:] or ["."]:
        write_report(Path(arg))
