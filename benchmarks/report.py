"""The benchmark report: ``report.md`` (tables) and a self-contained ``report.html`` (tables,
inline SVG charts, the observability matrix with its evidence), both from ``results.json``."""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, NamedTuple

from jinja2 import Environment, PackageLoader, select_autoescape

from benchmarks.crash import STEP_PROCESS

NA = "not supported"


PHASES = ("happy_path", "retries", "backfill", "bad_day", "bad_input", "crash",
          "observability", "stop")
# The bad-input cases in the order the scenario runs them, as the report names them.
BAD_INPUT_CASES = {
    "before_start": "a date before the start date",
    "unreadable_export": "an unreadable export (date never run)",
    "missing_column": "an export lacking a column (date never run)",
    "double_trigger": "a double trigger (two runs of one date at once)",
    "changed_input_rerun": "an export lacking a column, re-run while outputs exist",
}


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}{unit}"
    if isinstance(value, list):
        return ", ".join(_fmt(v) for v in value) or "–"
    return f"{value}{unit}"


def _incident(incident: dict[str, Any]) -> str:
    """One incident on one line: its fields in the order the adapter gave them."""
    return "; ".join(f"{k}: {_fmt(v)}" for k, v in incident.items())


def _cell(value: Any) -> str:
    """``value`` as the text of one Markdown table cell."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def headline_rows(results: dict[str, Any]) -> list[dict[str, str]]:
    """One row per orchestrator: the figures a reader compares first."""
    rows = []
    for name, o in results["orchestrators"].items():
        s = o["scenarios"]
        hp, bf, obs = s["happy_path"], s.get("backfill") or {}, s.get("observability") or {}
        retries = s.get("retries") or {}
        fidelity = [r["attempts_recorded"] == r["attempts_truth"] for r in retries.values()]
        recovered = sum(bool(r.get("recovered")) for k, r in retries.items() if k != "permanent")
        rows.append({
            "orchestrator": name,
            "profile": _fmt(o.get("profile")),
            "wall_s": _fmt(hp.get("wall_s")),
            "overhead_ratio": _fmt(hp.get("overhead_ratio")),
            "floor_wall_s": _fmt(hp.get("floor_wall_s")),
            "max_gap_s": _fmt(hp.get("max_gap_s")),
            "retry_fidelity": f"{sum(fidelity)}/{len(fidelity)}" if fidelity else "–",
            "recovered": f"{recovered}/3" if retries else "–",
            "backfill_ppm": _fmt(bf.get("partitions_per_min")),  # None: did not run
            "identical": _fmt(bf.get("identical_to_direct")),
            "rerun_steps": _fmt(bf.get("rerun_steps_executed")),
            "observability": _fmt(obs.get("score")),
            "errors": "; ".join(o.get("errors") or []) or "",
        })
    return rows


def profile_rows(results: dict[str, Any]) -> list[dict[str, str]]:
    """What the production profile changes, for every orchestrator that ran on both: the
    happy path's and the floor's medians on each, and their ratios (production / default),
    measured side by side in one benchmark."""
    rows = []
    entries = results["orchestrators"]
    for name, o in entries.items():
        other = next((e for e in entries.values() if e is not o
                      and e.get("orchestrator") == o.get("orchestrator")
                      and e.get("mode") == o.get("mode")
                      and {e.get("profile"), o.get("profile")} == {"production", "default"}),
                     None)
        if other is None or o.get("profile") != "production":
            continue
        prod, dflt = o["scenarios"]["happy_path"], other["scenarios"]["happy_path"]

        def ratio(key: str) -> str:
            a, b = prod.get(key), dflt.get(key)
            return _fmt(round(a / b, 2)) if a and b else "–"

        rows.append({"orchestrator": name, "wall_production_s": _fmt(prod.get("wall_s")),
                     "wall_default_s": _fmt(dflt.get("wall_s")), "wall_ratio": ratio("wall_s"),
                     "floor_production_s": _fmt(prod.get("floor_wall_s")),
                     "floor_default_s": _fmt(dflt.get("floor_wall_s")),
                     "floor_ratio": ratio("floor_wall_s")})
    return rows


def bad_input_rows(results: dict[str, Any]) -> list[dict[str, str]]:
    """One row per bad-input case and orchestrator: the verdict, the error line the
    orchestrator reported, and the evidence beside it (attempts, alerts, outputs)."""
    rows = []
    for case, label in BAD_INPUT_CASES.items():
        for name, o in results["orchestrators"].items():
            x = (o["scenarios"].get("bad_input") or {}).get(case)
            if x is None:
                continue
            evidence = []
            if "ingest_attempts" in x:
                evidence += [f"ingest_cdc attempts {x['ingest_attempts']}",
                             f"alerts {x['alerts']}",
                             "outputs untouched" if x["downstream_untouched"]
                             else "OUTPUTS CHANGED"]
            if "steps_run" in x and not x["steps_run"] and "ingest_attempts" not in x:
                evidence.append("no step ran")
            rows.append({"case": label, "orchestrator": name, "verdict": x["verdict"],
                         "error": x.get("error") or "–", "evidence": ", ".join(evidence),
                         "wall_s": _fmt(x.get("wall_s"))})
    return rows


def _crash_cases(results: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(orchestrator, component killed, case)`` of every crash case, in the results' order."""
    for name, o in results["orchestrators"].items():
        for target, x in (o["scenarios"].get("crash") or {}).items():
            yield name, target, x


def _detection(x: dict[str, Any]) -> str:
    """The crash-detection settings a case ran with: the mode, then each setting in force."""
    detection = x.get("detection")
    if not detection:
        return "–"
    mode = detection.get("mode") or "–"
    settings = ", ".join(f"{k}={v}" for k, v in (detection.get("settings") or {}).items())
    return f"{mode}: {settings}" if settings else mode


def crash_label(name: str, target: str, x: dict[str, Any]) -> str:
    """What a crash case's timeline is called: who was killed, during what, and how the
    orchestrator was set to detect it (left out when the case did not record it)."""
    mode = (x.get("detection") or {}).get("mode")
    return f"{name}: {target} killed during {x.get('step', '–')}" + (
        f" (detection {mode})" if mode else "")


class Mark(NamedTuple):
    """One moment of a crash case, ``at`` seconds after the kill (a span to ``until``)."""

    at: float
    text: str
    color: str
    until: float | None = None
    dashed: bool = False

    def when(self) -> str:
        """The moment as the report writes it: ``5.20 s``, or ``31.50–45.30 s`` for a span."""
        at = _fmt(float(self.at))
        return f"{at} s" if self.until is None else f"{at}–{_fmt(float(self.until))} s"


def crash_marks(x: dict[str, Any]) -> list[Mark]:
    """A crash case's moments in time order: the kill, the restart, the damage shown, the
    run's end (or the wait bound it did not end within) and a human's re-run. A moment the
    case has no time for is left out."""
    marks = [Mark(0.0, "killed", "black")]
    # a step's process is not restarted: the orchestrator decides what follows
    if x.get("target") != STEP_PROCESS and x.get("restarted_after_s") is not None:
        marks.append(Mark(x["restarted_after_s"], "restarted", "tab:blue"))
    if x.get("detected_s") is not None:
        marks.append(Mark(x["detected_s"], f"damage shown: {x.get('detected_as') or '–'}",
                          "tab:orange"))
    state = x.get("end_state") or "–"
    if x.get("ended_after_s") is not None:
        marks.append(Mark(x["ended_after_s"], f"run ended: {state}",
                          "tab:green" if state == "success" else "tab:red"))
    elif x.get("bound_s") is not None:
        marks.append(Mark(x["bound_s"], "wait bound: the run had not ended", "tab:gray",
                          dashed=True))
    human = x.get("human") or {}
    if human.get("started_after_s") is not None and human.get("seconds") is not None:
        start = human["started_after_s"]
        marks.append(Mark(start, f"a human re-ran it: {human.get('state', '–')}",
                          "tab:green" if human.get("state") == "success" else "tab:red",
                          until=start + human["seconds"]))
    return sorted(marks, key=lambda m: m.at)


def crash_rows(results: dict[str, Any]) -> list[dict[str, str]]:
    """One row per orchestrator and component killed: the detection settings it ran with,
    the verdict, when the orchestrator showed the damage, how the run ended, what a human
    had to do, the evidence, and the case's timeline as text (none for a case not run)."""
    rows = []
    for name, target, x in _crash_cases(results):
        human = x.get("human") or {}
        ran = x["verdict"] != "not run"
        evidence = [f"took down {len(x.get('took_down') or [])} process(es)"]
        if ran and "dates" in x:  # a backfill's: each date's end
            evidence.append(f"dates finished {len(x['dates_finished'])}/{len(x['dates'])}, "
                            f"lost {', '.join(x['dates_lost']) or 'none'}, run twice "
                            f"{', '.join(x['dates_run_twice']) or 'none'}")
        if x.get("lost_attempts"):
            evidence.append(f"attempts lost: {', '.join(x['lost_attempts'])}")
        if x.get("duplicated_steps"):
            evidence.append(f"ran twice: {', '.join(x['duplicated_steps'])}")
        if x.get("half_written"):
            evidence.append(f"half-written: {', '.join(x['half_written'])}")
        evidence.append(f"alerts {x.get('alerts', 0)}")
        if x.get("restart_failed"):
            evidence.append(f"the restart failed: {x['restart_failed'].splitlines()[0]}")
        if ran and x.get("error"):  # the orchestrator's own words (its API) on the run
            evidence.append(f"it said: {x['error'].splitlines()[0][:300]}")
        if ran and x.get("adapter_wait") and x["adapter_wait"] != x.get("error"):
            evidence.append(f"the bench's wait: {x['adapter_wait'].splitlines()[0][:200]}")
        if ran and x.get("took_down"):
            evidence.append(f"processes: {'; '.join(p[:80] for p in x['took_down'][:3])}"
                            + (" …" if len(x["took_down"]) > 3 else ""))
        rows.append({
            "orchestrator": name, "target": target, "step": x.get("step", "–"),
            "detection": _detection(x), "verdict": x["verdict"],
            "detected": (f"{_fmt(x.get('detected_s'))} s ({x['detected_as']})"
                         if x.get("detected_as") else "not shown" if ran else "–"),
            "ended": ("–" if not ran else
                      f"{x.get('end_state', '–')} after {_fmt(x['ended_after_s'])} s"
                      if x.get("ended_after_s") is not None else
                      f"{x.get('end_state', '–')} within {_fmt(x.get('bound_s'))} s"),
            "human": (f"{human['command']}: {human['state']} in {human['seconds']} s"
                      if human else "none"),
            # a case not run says why in its error
            "evidence": "; ".join(evidence) if ran else x.get("error") or "–",
            "error": x.get("error") or "",
            "label": crash_label(name, target, x),
            "timeline": "; ".join(f"{m.text} ({m.when()})" for m in crash_marks(x))
            if ran else "",
        })
    return rows


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def charts(results: dict[str, Any]) -> dict[str, str]:
    """Inline SVG charts: overhead and floor, Gantt timelines, retry delays, backfill."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    orchestrators = results["orchestrators"]
    names = list(orchestrators)
    out = {}

    fig, ax = plt.subplots(figsize=(7, 3))
    walls = [orchestrators[n]["scenarios"]["happy_path"].get("wall_s") or 0 for n in names]
    floors = [orchestrators[n]["scenarios"]["happy_path"].get("floor_wall_s") or 0 for n in names]
    xs = range(len(names))
    ax.bar([x - 0.2 for x in xs], walls, 0.4, label="one date (wall s)")
    ax.bar([x + 0.2 for x in xs], floors, 0.4, label="floor: same graph, no-op steps")
    ax.set_xticks(list(xs), names)
    ax.set_ylabel("seconds")
    ax.legend(fontsize=8)
    ax.set_title("Happy path: wall time and the orchestrator's floor")
    out["overhead"] = _svg(fig)

    fig, axes = plt.subplots(len(names), 1, figsize=(8, 1.2 + 1.3 * len(names)), squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        runs = [r for r in orchestrators[name]["scenarios"]["happy_path"].get("runs", [])
                if not r["warmup"]]
        ledger = runs[-1]["ledger"] if runs else []
        if ledger:
            t0 = min(datetime.fromisoformat(a["start"]).timestamp() for a in ledger)
            labels = []
            for i, a in enumerate(sorted(ledger, key=lambda a: a["start"])):
                start = datetime.fromisoformat(a["start"]).timestamp() - t0
                width = a["duration_s"] or 0.05
                ax.barh(i, width, left=start,
                        color="tab:green" if a["status"] == "success" else "tab:red")
                labels.append(a["step"] + (f"[{a['map_key']}]" if a["map_key"] else ""))
            ax.set_yticks(range(len(labels)), labels, fontsize=6)
            ax.invert_yaxis()
        ax.set_title(f"{name}: one run from the ledger (gaps = orchestrator time)", fontsize=9)
        ax.set_xlabel("seconds from the first step", fontsize=8)
    fig.tight_layout()
    out["gantt"] = _svg(fig)

    fig, ax = plt.subplots(figsize=(7, 3))
    for name in names:
        t = (orchestrators[name]["scenarios"].get("retries") or {}).get("transient") or {}
        observed = t.get("delays_observed_s") or []
        if observed:
            ax.plot(range(1, len(observed) + 1), observed, marker="o", label=name)
    configured = next((((o["scenarios"].get("retries") or {}).get("transient") or {})
                       .get("delays_configured_s") for o in orchestrators.values()
                       if (o["scenarios"].get("retries") or {}).get("transient")), None)
    if configured:
        ax.plot(range(1, len(configured) + 1), configured, "k--", label="configured")
    ax.set_xlabel("retry")
    ax.set_ylabel("delay before it (s)")
    ax.set_title("Transient fault: observed vs configured retry delays")
    if ax.lines:  # none when the retries did not run
        ax.legend(fontsize=8)
    out["retries"] = _svg(fig)

    fig, ax = plt.subplots(figsize=(7, 3))
    ppm = [(orchestrators[n]["scenarios"].get("backfill") or {}).get("partitions_per_min") or 0
           for n in names]
    ax.bar(names, ppm, color="tab:purple")
    ax.set_ylabel("partitions per minute")
    ax.set_title("Backfill throughput")
    out["backfill"] = _svg(fig)
    return out


def crash_timelines(results: dict[str, Any]) -> list[dict[str, str]]:
    """One small inline SVG per crash case that ran (a case not run has nothing to draw):
    each of its moments on a row of its own, on a line of seconds from the kill."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    for name, target, x in _crash_cases(results):
        if x["verdict"] == "not run":
            continue
        marks = crash_marks(x)
        end = max(m.until if m.until is not None else m.at for m in marks) or 1.0
        fig, ax = plt.subplots(figsize=(7, 0.6 + 0.28 * len(marks)))
        for y, m in enumerate(marks):
            ax.axvline(m.at, color=m.color, ls="--" if m.dashed else ":",
                       lw=1.0 if m.dashed else 0.6, alpha=0.9 if m.dashed else 0.6)
            if m.until is None:
                ax.plot([m.at], [y], marker="|" if m.dashed else "o", ms=6, color=m.color)
            else:
                ax.barh(y, m.until - m.at, left=m.at, height=0.5, color=m.color)
            ax.annotate(m.when(), (m.at if m.until is None else m.until, y), xytext=(5, 0),
                        textcoords="offset points", va="center", fontsize=7)
        ax.set_yticks(range(len(marks)), [m.text for m in marks], fontsize=7)
        ax.set_ylim(len(marks) - 0.5, -0.5)  # the kill on top, time running down the rows
        ax.set_xlim(-0.02 * end, 1.2 * end)  # room for the last mark's time
        ax.set_xlabel("seconds from the kill", fontsize=7)
        ax.tick_params(axis="x", labelsize=7)
        out.append({"orchestrator": name, "target": target, "label": crash_label(name, target, x),
                    "svg": _svg(fig)})
    return out


def render(results: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` next to ``results.json``."""
    env = Environment(loader=PackageLoader("benchmarks", "templates"),
                      autoescape=select_autoescape(["html", "html.j2"]))
    env.filters["fmt"] = _fmt
    env.filters["incident"] = _incident
    env.filters["cell"] = _cell
    ctx = {"r": results, "headline": headline_rows(results), "NA": NA,
           "profiles": profile_rows(results), "bad_input": bad_input_rows(results),
           "crash": crash_rows(results),
           "probe_names": _probe_names(results), "screenshots": _screenshots(folder),
           "phases": _phases(results)}
    md = env.get_template("report.md.j2").render(**ctx)
    html = env.get_template("report.html.j2").render(
        charts=charts(results), timelines=crash_timelines(results), **ctx)
    md_path, html_path = folder / "report.md", folder / "report.html"
    md_path.write_text(md)
    html_path.write_text(html)
    return md_path, html_path


def _phases(results: dict[str, Any]) -> list[str]:
    """The parts of the orchestrators' turns that any of them has, in the order they come."""
    by = (results.get("resources") or {}).get("phase_s_by_orchestrator") or {}
    return [p for p in PHASES if any(p in v for v in by.values())]


def _probe_names(results: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for o in results["orchestrators"].values():
        for p in (o["scenarios"].get("observability") or {}).get("probes", []):
            if p["name"] not in names:
                names.append(p["name"])
    return names


def _screenshots(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for pattern in ("*.png", "ui/*.png")
                  for p in folder.glob(pattern))


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="render a report from results.json")
    parser.add_argument("results", type=Path)
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text())
    md, html = render(results, args.results.parent)
    print(md, html, sep="\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
