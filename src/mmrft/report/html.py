"""One self-contained HTML page describing a run directory: ``write_report(run_dir)``.

Reads what a run leaves behind and shows each part it finds:

=================  =====================================================================
(health banner)    training-health warnings from metrics.jsonl and evals.jsonl, at the top
summary.json       every key as a table; ``X_before``/``X_after`` pairs side by side; the
                   ``ood_*`` keys (``eval.ood_level``) also in a section of their own
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
from mmrft.report.banner import health_banner

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
        ("Generalisation to an unseen difficulty", _ood_section),
        ("Evaluations", _evals_section),
        ("Training metrics", _metrics_section),
        ("Examples", _examples_section),
        ("Config", _config_section),
    ]
    body = [_health(run_dir)]  # first thing on the page: a degenerate run says so at once
    for title, render in sections:
        try:
            content = render(run_dir)
        except Exception as e:  # a report must never take a finished run down with it
            logger.warning("report section %r failed: %s", title, e, exc_info=True)
            content = _note(f"Could not render this section: {type(e).__name__}: {e}")
        if not content:  # a section with nothing to show (e.g. a check that was off)
            continue
        body.append(f"<section><h2>{html.escape(title)}</h2>\n{content}\n</section>")
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    name = html.escape(run_dir.resolve().name)
    return PAGE.format(
        title=name,
        header=f"<h1>{name}</h1><p class='sub'>{html.escape(str(run_dir))} &middot; "
        f"report generated {stamp}</p>",
        body="\n".join(body),
    )


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------


def _health(run_dir: Path) -> str:
    try:
        rows = {
            name: _read_jsonl(run_dir / name)[0] if (run_dir / name).is_file() else []
            for name in ("metrics.jsonl", "evals.jsonl")
        }
        return health_banner(run_dir, rows["metrics.jsonl"], rows["evals.jsonl"])
    except Exception as e:  # the banner must not take the report down either
        logger.warning("report health banner failed: %s", e, exc_info=True)
        return _note(f"Could not check this run's health: {type(e).__name__}: {e}")


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
            change = fmt_change(before, after)
            rows.append(
                f"<tr><td>{html.escape(key)}</td><td class='num'>{fmt(before)}</td>"
                f"<td class='num strong'>{fmt(after)}</td><td class='num'>{change}</td></tr>"
            )
    used = {f"{k}_{s}" for k in paired for s in ("before", "after")}
    rest = [k for k in summary if k not in used]
    if rest:
        rows.append("<tr><th>key</th><th colspan='3'>value</th></tr>")
        for key in rest:
            rows.append(
                f"<tr><td>{html.escape(key)}</td>"
                f"<td class='num' colspan='3'>{fmt(summary[key], key)}</td></tr>"
            )
    return "<table class='summary'>" + "\n".join(rows) + "</table>"


def _ood_section(run_dir: Path) -> str:
    """summary.json's ``ood_*`` keys (``eval.ood_level``), or "" when the check was off."""
    path = run_dir / "summary.json"
    summary = json.loads(path.read_text()) if path.is_file() else {}
    if not isinstance(summary, dict) or "ood_accuracy_before" not in summary:
        return ""
    rows = ["<tr><th>accuracy</th><th>before RL</th><th>after RL</th><th>change</th></tr>"]
    for key, name in (("accuracy", "sampled"), ("greedy_accuracy", "greedy")):
        before, after = summary.get(f"ood_{key}_before"), summary.get(f"ood_{key}_after")
        rows.append(
            f"<tr><td>{name}</td><td class='num'>{fmt(before)}</td>"
            f"<td class='num strong'>{fmt(after)}</td><td class='num'>{fmt_change(before, after)}"
            "</td></tr>"
        )
    note = _note(
        f"The same task at level {summary.get('ood_level')}, a difficulty this run never "
        f"trained on: {summary.get('ood_problems')} held-out problems, evaluated on the "
        "cold start before RL and on the final policy after it (not averaged over the last "
        "evaluations). A check of generalisation, not a target: no recipe is tuned on it."
    )
    return note + "<table class='summary'>" + "\n".join(rows) + "</table>"


def _evals_section(run_dir: Path) -> str:
    path = run_dir / "evals.jsonl"
    if not path.is_file():
        return _missing(path)
    evals, bad = _read_jsonl(path)
    if not evals:
        return _note("evals.jsonl has no readable evaluations.") + _bad_lines(bad, path)
    fig = plots.eval_figure(evals)
    parts = [img(plots.to_data_uri(fig), "evaluation curves")] if fig is not None else []
    keys = list(dict.fromkeys(k for row in evals for k in row))
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    body = "".join(
        "<tr>" + "".join(f"<td class='num'>{fmt(row.get(k, ''))}</td>" for k in keys) + "</tr>"
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
        plot = img(plots.to_data_uri(fig), ns)
        parts.append(f"<div class='ns'><h3>{html.escape(ns)}</h3>{plot}</div>")
    constants = {k: s[1][0] for k, s in series.items() if k not in moving}
    if constants:
        items = ", ".join(f"{html.escape(k)} = {fmt(v)}" for k, v in sorted(constants.items()))
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
    picture = _note("no image")
    if isinstance(image, str):
        img_path = run_dir / image
        if img_path.is_file():
            picture = img(_file_data_uri(img_path), image, cls="example")
        else:
            picture = _note(f"image missing: {image}")
    parts = [f"<div class='card'>{picture}"]
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
            f" <span class='reward'>reward {fmt(reward)}</span>" if reward is not None else ""
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
# Evaluation report (``mmrft eval``): results.json -> report.html
# --------------------------------------------------------------------------------------------


def write_eval_report(eval_dir: str | Path) -> Path:
    """Build ``eval_dir/report.html`` from the ``results.json`` of ``mmrft eval``."""
    eval_dir = Path(eval_dir)
    out = eval_dir / "report.html"
    out.write_text(build_eval_report(eval_dir), encoding="utf-8")
    logger.info("wrote %s", out)
    return out


def build_eval_report(eval_dir: Path) -> str:
    """The evaluation page: settings, overall numbers per mode (official vs strict and their
    difference), per-category numbers, example problems."""
    path = eval_dir / "results.json"
    try:
        results = json.loads(path.read_text()) if path.is_file() else None
    except json.JSONDecodeError as e:
        results, error = None, f"results.json is not valid JSON: {e}"
    else:
        error = None if results is not None else f"No results.json in {eval_dir}."
    sections: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("Summary", _eval_summary_section),
        ("Per category", _eval_category_section),
        ("Examples", lambda r: _eval_examples_section(eval_dir, r)),
    ]
    body = []
    for title, render in sections:
        try:
            content = _note(error) if error else render(results)
        except Exception as e:  # a report must never take a finished evaluation down with it
            logger.warning("eval report section %r failed: %s", title, e, exc_info=True)
            content = _note(f"Could not render this section: {type(e).__name__}: {e}")
        body.append(f"<section><h2>{html.escape(title)}</h2>\n{content}\n</section>")
    name = html.escape(str((results or {}).get("name", eval_dir.resolve().name)))
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    return PAGE.format(
        title=name,
        header=f"<h1>{name}</h1><p class='sub'>{html.escape(str(eval_dir))} &middot; "
        f"evaluation report generated {stamp}</p>",
        body="\n".join(body),
    )


_SETTINGS = (
    "model",
    "benchmark",
    "scorer",
    "data",
    "split",
    "fingerprint",
    "n_problems",
    "k",
    "temperature",
    "max_new_tokens",
    "seed",
    "wall_seconds",
    "truncated",
)


def _eval_summary_section(results: dict[str, Any]) -> str:
    info = [
        f"<tr><td>{html.escape(key)}</td><td class='num'>{fmt(results[key], key)}</td></tr>"
        for key in _SETTINGS
        if key in results
    ]
    skipped = results.get("skipped", {})
    failures = results.get("failures", {})
    info.append(f"<tr><td>skipped rows</td><td class='num'>{fmt(skipped.get('count'))}</td></tr>")
    info.append(f"<tr><td>failures</td><td class='num'>{fmt(failures)}</td></tr>")
    parts = ["<table class='summary'>" + "".join(info) + "</table>"]
    modes, overall = results.get("modes", []), results.get("overall", {})
    rows = {}  # metric -> {mode: value}; the k-sample metrics first, then the scorer's numbers
    for mode in modes:
        for key, value in overall.get(mode, {}).items():
            if key == "scorer":
                for sub, v in _flat(value).items():
                    if sub != "n":
                        rows.setdefault(f"scorer: {sub}", {})[mode] = v
            elif key != "n":
                rows.setdefault(key, {})[mode] = value
    pair = len(modes) == 2
    head = "".join(f"<th>{html.escape(m)}</th>" for m in modes)
    head += f"<th>{html.escape(modes[1])} &minus; {html.escape(modes[0])}</th>" if pair else ""
    lines = [f"<tr><th>metric</th>{head}</tr>"]
    for key, values in rows.items():
        cells = "".join(f"<td class='num'>{fmt(values.get(m))}</td>" for m in modes)
        if pair:
            cells += (
                f"<td class='num'>{fmt_change(values.get(modes[0]), values.get(modes[1]))}</td>"
            )
        lines.append(f"<tr><td>{html.escape(key)}</td>{cells}</tr>")
    parts.append("<table class='data'>" + "".join(lines) + "</table>")
    if skipped.get("first"):
        shown = "; ".join(f"{row}: {reason}" for row, reason in skipped["first"][:5])
        parts.append(_note(f"Skipped rows (first {min(5, len(skipped['first']))}): {shown}"))
    return "\n".join(parts)


def _eval_category_section(results: dict[str, Any]) -> str:
    modes, categories = results.get("modes", []), results.get("categories", {})
    if not categories:
        return _note("No per-category numbers.")
    keys = [k for k in next(iter(categories.values())).get(modes[0], {}) if "@" in k]
    head = "".join(f"<th>{html.escape(m)} {html.escape(k)}</th>" for m in modes for k in keys)
    mean_key = next((k for k in keys if k.startswith("mean@")), None)
    pair = len(modes) == 2 and mean_key is not None
    if pair:
        head += f"<th>{html.escape(mean_key)} {html.escape(modes[1])} &minus; {html.escape(modes[0])}</th>"
    lines = [f"<tr><th>category</th><th>n</th>{head}</tr>"]
    for name, cat in categories.items():
        cells = "".join(
            f"<td class='num'>{fmt(cat.get(m, {}).get(k))}</td>" for m in modes for k in keys
        )
        if pair:
            a, b = cat.get(modes[0], {}).get(mean_key), cat.get(modes[1], {}).get(mean_key)
            cells += f"<td class='num'>{fmt_change(a, b)}</td>"
        lines.append(
            f"<tr><td>{html.escape(name)}</td><td class='num'>{cat.get('n')}</td>{cells}</tr>"
        )
    return "<table class='data'>" + "".join(lines) + "</table>"


def _eval_examples_section(eval_dir: Path, results: dict[str, Any]) -> str:
    examples = results.get("examples") or []
    if not examples:
        return _note("No examples in results.json.")
    cards = []
    for ex in examples:
        image = ex.get("image")
        picture = _note("no image")
        if isinstance(image, str):
            img_path = eval_dir / image
            picture = (
                img(_file_data_uri(img_path), image, cls="example")
                if img_path.is_file()
                else _note(f"image missing: {image}")
            )
        parts = [f"<div class='card'>{picture}"]
        where = f"{ex.get('id', '?')} · {ex.get('category', '')}"
        parts.append(f"<p class='sub'>{html.escape(where)}</p>")
        parts.append(f"<p class='prompt'>{html.escape(str(ex.get('prompt', '')))}</p>")
        parts.append(
            f"<p><b>answer:</b> <code>{html.escape(str(ex.get('answer', '?')))}</code></p>"
        )
        verdicts = []
        for mode, res in (ex.get("results") or {}).items():
            score = res.get("score") if isinstance(res, dict) else None
            cls = "ok" if plots.is_number(score) and score >= 1 else "bad"
            extracted = res.get("extracted") if isinstance(res, dict) else None
            verdicts.append(
                f"<span class='tag {cls}'>{html.escape(mode)} {fmt(score)}</span> "
                f"<code>{html.escape(json.dumps(extracted, default=str))}</code>"
            )
        parts.append("<p>" + "<br>".join(verdicts) + "</p>")
        parts.append(
            f"<div class='completion'><b>prediction</b>"
            f"<pre>{html.escape(str(ex.get('prediction', '')))}</pre></div></div>"
        )
        cards.append("".join(parts))
    legend = (
        f"<p class='sub'>{len(examples)} problems (first completion); "
        "<span class='tag ok'>full score</span> <span class='tag bad'>not</span>.</p>"
    )
    return legend + "<div class='grid'>" + "\n".join(cards) + "</div>"


def _flat(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Scalar leaves of a nested dict as ``{"a/b": value}``."""
    if not isinstance(tree, dict):
        return {prefix: tree} if prefix else {}
    out: dict[str, Any] = {}
    for key, value in tree.items():
        out.update(_flat(value, f"{prefix}/{key}" if prefix else str(key)))
    return out


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


def fmt(value: Any, key: str = "") -> str:
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


def fmt_change(before: Any, after: Any) -> str:
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


def img(src: str, alt: str, cls: str = "plot") -> str:
    return f"<img class='{cls}' src='{src}' alt='{html.escape(alt, quote=True)}'>"


def _note(text: str) -> str:
    return f"<p class='note'>{html.escape(text)}</p>"


def _missing(path: Path) -> str:
    return _note(f"No {path.name} in this run directory; section skipped.")


def _bad_lines(bad: int, path: Path) -> str:
    return _note(f"{bad} unreadable lines in {path.name} were skipped.") if bad else ""


PAGE = """<!DOCTYPE html>
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
.health {{ background: #fff3e0; border: 2px solid #e65100; border-radius: 6px;
          padding: 0.2em 1.2em 0.5em; margin: 1em 0 2em; }}
.health h2 {{ color: #bf360c; border: none; margin: 0.4em 0; }}
.health li {{ margin: 0.3em 0; }} .health .where {{ color: #666; }}
.healthy {{ color: #2e7d32; }}
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
