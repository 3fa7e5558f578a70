"""The auditor's HTML report: one self-contained file, written row by row as it is rendered.

The first screen answers "is this installation DR-ready?": the verdict, the failing and unevaluable
results (each linked to its row), the recovery-point table and what changed since the last run. Then the
summaries per installation, category and framework control, the run's metadata, and the results table:
every result that is not PASS first, then the PASS results. Each row opens to its evidence as labelled
tables (observed values, the reads made, where each setting came from) with the raw JSON one click away.

Printed (a print stylesheet, Chromium's PDF), the same order gives the summary first, then every non-PASS
result with its evidence expanded, then the PASS results one line each, with a page header naming the
installation and date and page numbers.

Nothing is loaded from the network: the style sheet and the one script are inlined, and the
Content-Security-Policy allows exactly those (by hash), nothing else. Rows are written as they are
rendered, so the report never holds every row in memory a second time.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .catalogue import SEVERITIES, Requirement
from .redaction import Redactor
from .results import STATUS_ORDER, Result, Status, recovery_points_of
from .run import Run, counts_of, summary_of

if TYPE_CHECKING:  # imported when the first text is rendered: collection and `pytest --help` do without it
    from markdown_it import MarkdownIt

MAX_CHANGES_LISTED = 50
_SEVERITY_RANK = {severity: rank for rank, severity in enumerate(SEVERITIES)}
_ATTENTION = (Status.FAIL, Status.ERROR)


def text(value: object) -> str:
    """Escaped for an element's text: &, < and > (quotes stay one character each)."""
    return html.escape(str(value), quote=False)


def attr(value: object) -> str:
    """Escaped for a quoted attribute value."""
    return html.escape(str(value), quote=True)


def status_class(status: str) -> str:
    return "dr-" + status.replace("/", "").lower()


@cache
def _markdown() -> MarkdownIt:
    from markdown_it import MarkdownIt

    # CommonMark without raw HTML: catalogue text can never inject markup, only code spans and emphasis.
    return MarkdownIt("commonmark", {"html": False})


def _render(value: str) -> str:
    return str(_markdown().renderInline(value))


@cache
def _rendered_catalogue() -> dict[str, str]:
    """Every text of the catalogue rendered, kept between runs by markdown-it's version and the texts
    (spacelift_dr.disk_cache): importing markdown-it and rendering took some 45 ms of every report."""
    from .catalogue import catalogue
    from .disk_cache import derived, library_version

    texts = sorted({t for r in catalogue().values()
                    for t in (r.title, r.expected, r.rationale, r.remediation, r.not_applicable_when or "—")})
    rendered: dict[str, str] = derived(
        "markdown", "\0".join([f"markdown-it-py {library_version('markdown-it-py')}", *texts]),
        lambda: {t: _render(t) for t in texts},
        lambda found: isinstance(found, dict) and all(isinstance(found.get(t), str) for t in texts))
    return {t: rendered[t] for t in texts}


@cache
def markdown(value: str) -> str:
    """A catalogue text (title, expected condition, remediation) as inline HTML: `code` becomes <code>."""
    found = _rendered_catalogue().get(value)
    return found if found is not None else _render(value)


# -- recovery points, ERROR guidance, durations --------------------------------------------------------


def duration(seconds: float | None) -> str:
    """``93784`` → ``1 d 2 h``; the two largest units, for figures an auditor compares at a glance."""
    if seconds is None:
        return "—"
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds >= 1 or seconds == 0 else f"{seconds * 1000:.0f} ms"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size:
            amount = int(seconds // size)
            parts.append(f"{amount} {unit}")
            seconds -= amount * size
        if len(parts) == 2:
            break
    return " ".join(parts)


_UNOBSERVABLE = re.compile(r"^(?P<action>[A-Za-z0-9-]+:[A-Za-z0-9_]+) failed on (?P<resource>.+?): (?P<reason>.*)$",
                           re.DOTALL)
_NOT_AWS = {"postgres", "host", "testinfra", "spacelift", "terraform"}
_DENIED = re.compile(r"AccessDenied|not authori[sz]ed|UnauthorizedOperation|AuthorizationError|Forbidden|403|"
                     r"InvalidClientTokenId|ExpiredToken|UnrecognizedClient|SignatureDoesNotMatch|denied",
                     re.IGNORECASE)
_THROTTLED = re.compile(r"Throttl|RequestLimitExceeded|TooManyRequests|SlowDown|rate exceeded", re.IGNORECASE)
_UNREACHABLE = re.compile(r"unreachable|timed? ?out|connect|endpoint|resolve|refused|ServiceUnavailable",
                          re.IGNORECASE)


def how_to_observe(message: str, actions: Iterable[Mapping[str, str]] = ()) -> str:
    """What makes the fact of an ERROR observable (a permission, an endpoint, a setting): its remedy,
    which is never the FAIL remediation of the requirement."""
    if message.startswith("suite error"):
        return ("The suite itself failed on this check: report it with the traceback from the terminal output; "
                "the requirement was not evaluated.")
    found = _UNOBSERVABLE.match(message)
    if found is None:
        return ("Make the read named in the message answer for the suite's credentials, then run the suite "
                "again; until then the requirement is not evaluated.")
    action, resource, reason = found["action"], found["resource"], found["reason"]
    service = action.split(":", 1)[0]
    region = next((a.get("region") for a in actions if a.get("action") == action and a.get("region")), None)
    where = f" in {region}" if region else ""
    if service == "postgres":
        if action == "postgres:query":
            return (f"Give the role of the configured DSN read access to what the query reads on {resource} "
                    "(e.g. the pg_monitor role), then run the suite again.")
        return (f"Make {resource} reachable with a read-only DSN from where the suite runs: set the environment "
                "variable named by database.dsn_env (or replica_dsn_env), check the network path, the "
                "credentials and sslmode.")
    if service in {"host", "testinfra"}:
        return (f"Make {resource} reachable through its testinfra backend from where the suite runs "
                "(ssh key and known host, or docker access), and the file or command readable.")
    if service == "spacelift":
        if action == "spacelift:setting":
            return (f"Make {resource} known: give it under installation.settings in the config, or let discovery "
                    "(DR-SVC-01) read it from the services' task definitions.")
        return ("Give the suite a Spacelift API key with read access to every space (continuity.spacelift_api: "
                "the environment variables named by key_id_env and key_secret_env) and a reachable endpoint.")
    if service == "terraform":
        return f"Make {resource} parse (the message names the file and line), or leave it out of the scanned folders."
    if service in _NOT_AWS:
        return f"Make {action} on {resource} answer for the suite, then run it again."
    if _DENIED.search(reason):
        return (f"Allow {action} on {resource}{where} for the suite's credentials: attach the published "
                "policy policy/dr-suite-readonly.json (it lists every read the suite makes), and check that no "
                "SCP, permissions boundary or resource policy denies it.")
    if _THROTTLED.search(reason):
        return (f"{action} was throttled past retries{where}: run the suite again at a quieter time, or raise "
                "the account's API rate quota for it.")
    if _UNREACHABLE.search(reason):
        return (f"Make the {service} endpoint{where} reachable from where the suite runs (network route, proxy, "
                f"VPC endpoint, AWS_ENDPOINT_URL), then run the suite again.")
    if "NoSuch" in reason or "NotFound" in reason or "does not exist" in reason:
        return (f"{resource} was not found by {action}{where}: correct the config that names it, or the "
                "credentials' account, so that the suite reads the resource the installation uses.")
    return (f"Make {action} on {resource}{where} answer in a form the suite understands ({reason}); "
            "until then the requirement is not evaluated.")


# -- evidence as labelled tables ----------------------------------------------------------------------

_MAX_DEPTH = 4
_MAX_COLUMNS = 8


def _scalar(value: object) -> str:
    if value is None:
        return "<span class='dr-none'>none</span>"
    if isinstance(value, bool):
        return "true" if value else "false"
    return text(value)


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def value_html(value: Any, depth: int = 0) -> str:
    """A JSON value as HTML a person reads: scalars as text, objects as key/value tables, lists of
    objects as tables with a column per field; anything deeper than a few levels as compact JSON."""
    if _is_scalar(value):
        return _scalar(value)
    if depth >= _MAX_DEPTH:
        return f"<code>{text(json.dumps(value, ensure_ascii=False))}</code>"
    if isinstance(value, dict):
        if not value:
            return "<span class='dr-none'>none</span>"
        rows = "".join(f"<tr><th scope='row'>{text(k)}</th><td>{value_html(v, depth + 1)}</td></tr>"
                       for k, v in value.items())
        return f"<table class='dr-kv'>{rows}</table>"
    if isinstance(value, list | tuple):
        if not value:
            return "<span class='dr-none'>none</span>"
        if all(_is_scalar(v) for v in value):
            return "<ul class='dr-list'>" + "".join(f"<li>{_scalar(v)}</li>" for v in value) + "</ul>"
        if all(isinstance(v, dict) for v in value):
            columns = list(dict.fromkeys(k for v in value for k in v))
            if len(columns) <= _MAX_COLUMNS:
                head = "".join(f"<th scope='col'>{text(c)}</th>" for c in columns)
                body = "".join("<tr>" + "".join(
                    f"<td>{value_html(v[c], depth + 1) if c in v else ''}</td>" for c in columns) + "</tr>"
                    for v in value)
                return f"<table class='dr-grid'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        return "<ol class='dr-list'>" + "".join(f"<li>{value_html(v, depth + 1)}</li>" for v in value) + "</ol>"
    return text(value)


def settings_named(evidence: Mapping[str, Any], known: Iterable[str]) -> list[str]:
    """The Spacelift settings an evidence document names: its ``setting`` value and setting-named keys."""
    names = set(known)
    found = [evidence["setting"]] if isinstance(evidence.get("setting"), str) else []
    found += [key for key in evidence if key in names]
    return [name for name in dict.fromkeys(found) if name in names]


class SettingOrigins:
    """Where each setting of an installation came from: a task definition, or the config."""

    def __init__(self, run: Run) -> None:
        self._rows: dict[str, list[tuple[str, str]]] = {}
        installation = run.discovered()
        if installation is None:
            return
        # Discovery failed: only the settings declared in the config have an origin to show (reading
        # the unread services would raise their discovery error in the middle of the report).
        unread = installation.discovery_error is not None
        services = {} if unread else installation.services
        for name in (set(installation.explicit_settings) if unread else installation.setting_names()):
            rows = []
            for role, service in services.items():
                setting = installation.setting(name, role)
                if setting is None:
                    continue
                if setting.service == "config":
                    origin = f"the config file ({run.config.source}): installation.settings"
                elif setting.is_secret_reference:
                    origin = f"ECS task definition {service.task_definition_arn}: secret reference"
                else:
                    origin = f"ECS task definition {service.task_definition_arn}: environment"
                rows.append((role, origin))
            if not rows and name in installation.explicit_settings:
                rows.append(("every service", f"the config file ({run.config.source}): installation.settings"))
            if rows:
                self._rows[name] = rows

    def names(self) -> Iterable[str]:
        return self._rows.keys()

    def of(self, name: str) -> list[tuple[str, str]]:
        return self._rows.get(name, [])


def evidence_html(result: Result, origins: SettingOrigins, table_id: str) -> str:
    parts = ["<h4>Observed</h4>"]
    if result.evidence:
        parts.append(f"<div class='dr-observed'>{value_html(result.evidence)}</div>")
    else:
        parts.append("<p class='dr-none'>No values recorded: the verdict rests on the message above"
                     + (" and the reads below." if result.actions else ".") + "</p>")
    settings = settings_named(result.evidence, origins.names())
    if settings:
        rows = "".join(f"<tr><td>{text(name)}</td><td>{text(role)}</td><td>{text(origin)}</td></tr>"
                       for name in settings for role, origin in origins.of(name))
        parts.append("<h4>Where each setting came from</h4><table class='dr-grid dr-settings'><thead><tr>"
                     "<th scope='col'>Setting</th><th scope='col'>Service</th><th scope='col'>Source</th>"
                     f"</tr></thead><tbody>{rows}</tbody></table>")
    if result.actions:
        rows = "".join(f"<tr><td>{text(a.get('action', ''))}</td><td>{text(a.get('resource', ''))}</td>"
                       f"<td>{text(a.get('region') or '—')}</td></tr>" for a in result.actions)
        parts.append("<h4>Reads the verdict rests on</h4><table class='dr-grid dr-actions'><thead><tr>"
                     "<th scope='col'>Action</th><th scope='col'>Resource</th><th scope='col'>Region</th>"
                     f"</tr></thead><tbody>{rows}</tbody></table>")
    else:
        parts.append("<p class='dr-none'>No read was recorded for this result.</p>")
    raw = json.dumps({"evidence": result.evidence, "actions": result.actions}, indent=1, ensure_ascii=False)
    parts.append(f"<details class='dr-raw'><summary>Raw JSON</summary><pre class='dr-evidence' id='{table_id}'>"
                 f"{text(raw)}</pre></details>")
    return "".join(parts)


# -- the report ---------------------------------------------------------------------------------------


def ordered(runs: list[Run]) -> list[tuple[Run, Result]]:
    """Rows in the report's order: every result that is not PASS first (FAIL, ERROR, WAIVED, N/A), then
    the PASS results; within a status by installation, requirement and resource. (A list of references:
    the rows themselves are rendered one at a time.)"""
    rank = {status: position for position, status in enumerate(
        (Status.FAIL, Status.ERROR, Status.WAIVED, Status.NA, Status.PASS))}
    position = {run.name: index for index, run in enumerate(runs)}
    pairs = [(run, result) for run in runs for result in run.results]
    pairs.sort(key=lambda p: (rank[p[1].status], position[p[0].name], p[1].requirement.id, p[1].resource))
    return pairs


def verdict_of(counts: Mapping[str, int]) -> tuple[bool, str]:
    ready = counts["FAIL"] == 0 and counts["ERROR"] == 0
    return ready, ("DR-ready: every evaluated requirement holds" if ready
                   else f"Not DR-ready: {counts['FAIL']} failing and {counts['ERROR']} unevaluable results")


def _hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode() + "'"


def _css_string(value: str) -> str:
    """A CSS string literal (the page header's text), safe inside a <style> element."""
    escaped = "".join(ch if ch.isalnum() or ch in " .,:;_-()/→" else f"\\{ord(ch):x} " for ch in value)
    return f'"{escaped}"'


class HtmlReport:
    """Writes dr-report.html for the runs of one session."""

    def __init__(self, runs: list[Run], *, css: str, script: str, incomplete: bool,
                 not_implemented: Iterable[str] = ()) -> None:
        self.runs = runs
        self.several = len(runs) > 1
        self.incomplete = incomplete
        self.not_implemented = sorted(not_implemented)
        self.css = css
        self.script = script
        self.redactor = Redactor.merged(run.redactor for run in runs)
        # The table's order, and each row's anchor for the first screen's links (references, not copies).
        self.rows = ordered(runs)
        self.anchors = {id(result): f"r{position}" for position, (_, result) in enumerate(self.rows)}
        first = runs[0]
        self.date = f"{first.started_at:%Y-%m-%d}"
        scope = first.name if not self.several else f"{len(runs)} installations"
        self.title = f"Spacelift DR compliance: {scope}, {self.date}"
        self.columns = ((("installation", "Installation"),) if self.several else ()) + (
            ("requirement", "Requirement"), ("severity", "Severity"), ("resource", "Resource"),
            ("drstatus", "Status"), ("message", "Message"))

    def write(self, path: Path) -> None:
        with path.open("w", encoding="utf-8") as out:
            self.write_to(out)

    def write_to(self, out: TextIO) -> None:
        for chunk in self.chunks():
            out.write(self.redactor.text(chunk))

    # Each chunk is written (redacted) as soon as it is made: the table's rows one at a time.
    def chunks(self) -> Iterator[str]:
        page_css = self._page_css()
        policy = (f"default-src 'none'; style-src {_hash(self.css)} {_hash(page_css)}; "
                  f"script-src {_hash(self.script)}; img-src data:; base-uri 'none'; form-action 'none'")
        yield ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>\n"
               f"<meta http-equiv='Content-Security-Policy' content=\"{attr(policy)}\">\n"
               "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
               f"<title>{text(self.title)}</title>\n<style>{self.css}</style>\n<style>{page_css}</style>\n"
               "</head>\n<body>\n")
        yield self._masthead()
        yield self._first_screen()
        yield self._summaries()
        yield self._run_details()
        yield from self._results()
        yield f"<script>{self.script}</script>\n</body></html>\n"

    def _page_css(self) -> str:
        scope = self.runs[0].name if not self.several else f"{len(self.runs)} installations"
        started = f"{self.runs[0].started_at:%Y-%m-%d %H:%M} UTC"
        return ("@page { @top-left { content: " + _css_string(f"Spacelift DR compliance: {scope}") + "; } "
                "@top-right { content: " + _css_string(started) + "; } "
                '@bottom-right { content: "Page " counter(page) " of " counter(pages); } }')

    def _masthead(self) -> str:
        if self.several:
            line = (f"{len(self.runs)} installations, each judged on its own; started "
                    f"{text(self.runs[0].metadata()['started_at'])}.")
        else:
            data = self.redactor.value(self.runs[0].metadata())
            line = (f"Installation <b>{text(data['installation'])}</b>, AWS account {text(data['account'])}, "
                    f"primary region {text(data['primary_region'])} → backup region {text(data['backup_region'])}; "
                    f"checked {text(data['started_at'])} by {text(data['caller_arn'])}.")
        return (f"<header class='dr-masthead'><h1 id='title'>{text(self.title)}</h1>"
                f"<p class='dr-scope'>{line}</p></header>\n")

    # -- first screen --

    def _first_screen(self) -> str:
        results = [r for run in self.runs for r in run.results]
        counts = counts_of(results)
        ready, verdict = verdict_of(counts)
        parts = ["<section class='dr-first' aria-label='Verdict'>"]
        if self.incomplete:
            parts.append("<h2 class='dr-incomplete'>INCOMPLETE RUN: interrupted before every check ran; "
                         "the results below are partial</h2>")
        tiles = "".join(f"<li class='dr-tile {status_class(k)}' data-dr-count='{attr(k)}'><b>{v}</b> {text(k)}</li>"
                        for k, v in counts.items())
        parts.append(f"<div class='dr-verdict-bar'><h2 class='dr-verdict {'dr-ready' if ready else 'dr-not-ready'}'>"
                     f"{text(verdict)}</h2><ul class='dr-tiles'>{tiles}</ul></div>")
        if self.several:
            ready_names = [run.name for run in self.runs if verdict_of(run.counts())[0]]
            not_ready = [run.name for run in self.runs if run.name not in ready_names]
            parts.append("<p class='dr-installation-verdicts'>"
                         + (f"<span class='dr-not-ready'>Not DR-ready ({len(not_ready)}):</span> "
                            f"{text(', '.join(not_ready))}. " if not_ready else "")
                         + (f"<span class='dr-ready'>DR-ready ({len(ready_names)}):</span> "
                            f"{text(', '.join(ready_names))}." if ready_names else "") + "</p>")
        parts.append("<div class='dr-first-grid'>")
        parts.append(self._attention())
        parts.append("<div class='dr-side'>" + self._recovery_points() + self._since() + "</div>")
        parts.append("</div></section>\n")
        return "".join(parts)

    def _attention(self) -> str:
        failing = [(run, r) for run in self.runs for r in run.results if r.status in _ATTENTION]
        if not failing:
            return ("<section class='dr-attention' id='dr-attention'><h3>Failing and unevaluable requirements</h3>"
                    "<p class='dr-all-clear'>None: no requirement failed and every one selected was evaluated."
                    "</p></section>")
        anchors = self.anchors
        failing.sort(key=lambda p: (_ATTENTION.index(p[1].status), _SEVERITY_RANK.get(p[1].requirement.severity, 9),
                                    p[1].requirement.id, p[0].name, p[1].resource))
        groups: dict[tuple[Status, str], list[tuple[Run, Result]]] = {}
        for run, result in failing:
            groups.setdefault((result.status, result.requirement.id), []).append((run, result))
        items = []
        for (status, _), members in groups.items():
            req = members[0][1].requirement
            entries = "".join(
                f"<li><a href='#{anchors[id(result)]}' data-dr-open='{anchors[id(result)]}'>"
                f"<span class='dr-resource'>{text(f'{run.name} · ' if self.several else '')}{text(result.resource)}"
                f"</span></a> <span class='dr-message'>{text(result.message)}</span>"
                + (f"<span class='dr-how'>To evaluate it: {text(how_to_observe(result.message, result.actions))}</span>"
                   if result.status is Status.ERROR else "") + "</li>"
                for run, result in members)
            items.append(f"<li class='dr-req'><span class='dr-badge {status_class(str(status))}'>{text(status)}</span> "
                         f"<b>{text(req.id)}</b> <span class='dr-req-title'>{markdown(req.title)}</span> "
                         f"<span class='dr-sev'>({text(req.severity)})</span><ul>{entries}</ul></li>")
        n_fail = sum(1 for _, r in failing if r.status is Status.FAIL)
        n_error = len(failing) - n_fail
        return (f"<section class='dr-attention' id='dr-attention'><h3>Failing and unevaluable requirements "
                f"<span class='dr-count'>({n_fail} FAIL, {n_error} ERROR)</span></h3>"
                f"<ol class='dr-attention-list'>{''.join(items)}</ol></section>")

    def _recovery_points(self) -> str:
        rows = []
        for run in self.runs:
            earlier = _previous_recovery_points(run.baseline)
            for point in recovery_points_of(run.results):
                if point.get("previous_seconds") is None:
                    point["previous_seconds"] = earlier.get(
                        (point["component"], point["requirement"], point["resource"]))
                rows.append((run, point))
        heading = "<h3>Recovery points in the backup region</h3>"
        if not rows:
            return (f"<section class='dr-rpo' id='dr-recovery-points'>{heading}<p class='dr-empty'>No recovery point "
                    "was measured in this run: the measured-RPO checks (DR-DB-09, DR-OBJ-07) reported no "
                    "figure.</p></section>")
        head = ("<th scope='col'>Installation</th>" if self.several else "") + (
            "<th scope='col'>Component</th><th scope='col'>Mechanism</th><th scope='col'>Measured (age or latency)</th>"
            "<th scope='col'>Target</th><th scope='col'>Status</th>")
        body = []
        for run, point in rows:
            status = str(point.get("status", ""))
            previous = point.get("previous_seconds")
            was = f"<span class='dr-was'>was {text(duration(previous))}</span>" if previous is not None else ""
            body.append("<tr>" + (f"<td>{text(run.name)}</td>" if self.several else "")
                        + f"<td>{text(point['component'])}<span class='dr-req-ref'>{text(point['requirement'])} · "
                        f"{text(point['resource'])}</span></td><td>{text(point['mechanism'])}</td>"
                        f"<td class='num'>{text(point['measured'])}{was}</td>"
                        f"<td class='num dr-nowrap'>≤ {text(duration(point['target_seconds']))}</td>"
                        f"<td class='{status_class(status)} dr-nowrap'>{text(status)}</td></tr>")
        return (f"<section class='dr-rpo' id='dr-recovery-points'>{heading}<table class='dr-rpo-table'><thead><tr>"
                f"{head}</tr></thead><tbody>{''.join(body)}</tbody></table></section>")

    def _since(self) -> str:
        sections = []
        for run in self.runs:
            changes = run.since_last_run()
            label = f" ({text(run.name)})" if self.several else ""
            if changes is None:
                if not self.several:
                    sections.append("<section class='dr-since'><h3>Since last run</h3><p class='dr-empty'>No "
                                    "earlier run to compare with (give --dr-baseline with a previous "
                                    "dr-results.json).</p></section>")
                continue
            parts = []
            for key, name in (("new_failures", "New failures"), ("resolved", "Resolved"),
                              ("no_longer_applicable", "No longer applicable"), ("still_failing", "Still failing"),
                              ("new_resources", "New resources"),
                              ("no_longer_evaluated", "No longer evaluated")):
                listed = "".join(f"<li>{text(i)}</li>" for i in changes.get(key, [])[:MAX_CHANGES_LISTED])
                more = len(changes.get(key, [])) - MAX_CHANGES_LISTED
                if more > 0:
                    listed += f"<li>… {more} more</li>"
                body = f"<ul>{listed}</ul>" if listed else ""
                parts.append(f"<details{' open' if key == 'new_failures' and changes.get(key) else ''}>"
                             f"<summary>{name}: <b>{len(changes.get(key, []))}</b></summary>{body}</details>")
            baseline = changes["baseline"]
            sections.append(f"<section class='dr-since'><h3>Since last run{label}</h3><p>Compared with "
                            f"{text(baseline['file'])} (started {text(baseline['started_at'])}).</p>"
                            + "".join(parts) + "</section>")
        if self.several and not sections:
            sections.append("<section class='dr-since'><h3>Since last run</h3><p class='dr-empty'>No earlier run "
                            "to compare with (give --dr-baseline with a previous run's reports folder).</p></section>")
        return "".join(sections)

    # -- summaries and run details --

    def _count_table(self, title: str, first: str, rows: Mapping[str, Mapping[str, int]]) -> str:
        header = "".join(f"<th scope='col'>{text(s)}</th>" for s in Status)
        body = "".join(f"<tr><th scope='row'>{text(label)}</th>" + "".join(
            f"<td class='num {status_class(str(s))}'>{row.get(str(s), 0) or ''}</td>" for s in Status) + "</tr>"
            for label, row in rows.items())
        return (f"<div class='dr-panel'><h3>{text(title)}</h3><table class='dr-counts'><thead><tr>"
                f"<th scope='col'>{text(first)}</th>{header}</tr></thead><tbody>{body}</tbody></table></div>")

    def _summaries(self) -> str:
        results = [r for run in self.runs for r in run.results]
        panels = []
        if self.several:
            rows = {f"{run.name}: {'DR-ready' if verdict_of(run.counts())[0] else 'not DR-ready'}": run.counts()
                    for run in self.runs}
            panels.append(self._count_table("By installation", "Installation", rows))
        panels.append(self._count_table("By category", "Category", summary_of(results, "category")))
        panels.append(self._count_table("By framework control", "Control", summary_of(results, "control")))
        return ("<section class='dr-summaries' aria-label='Summaries'><h2>Summary</h2><div class='dr-panels'>"
                + "".join(panels) + "</div></section>\n")

    def _run_details(self) -> str:
        rows: list[tuple[str, str]] = []
        if self.several:
            for run in self.runs:
                data = self.redactor.value(run.metadata())
                rows.append((f"Installation {run.name}",
                             f"account {data['account']}, {data['primary_region']} → {data['backup_region']}, run by "
                             f"{data['caller_arn']}, configuration {data['config_source']} ({data['config_digest']})"))
            first = self.runs[0].metadata()
            rows += [("Suite version", str(first["suite_version"])), ("Started (UTC)", str(first["started_at"])),
                     ("Finished (UTC)", max(str(run.metadata()["finished_at"]) for run in self.runs))]
        else:
            labels = {"installation": "Installation", "account": "AWS account",
                      "caller_arn": "Run by (caller identity)", "primary_region": "Primary region",
                      "backup_region": "Backup region", "suite_version": "Suite version",
                      "config_source": "Configuration", "config_digest": "Configuration digest",
                      "started_at": "Started (UTC)", "finished_at": "Finished (UTC)"}
            for key, value in self.redactor.value(self.runs[0].metadata()).items():
                rows.append((labels.get(key, key), str(value) if value is not None else "—"))
        calls = [run.api_calls() for run in self.runs]
        rows.append(("AWS API calls", f"{sum(c['total'] for c in calls)} sent, {sum(c['distinct'] for c in calls)} "
                                      f"distinct, {sum(c['cache_hits'] for c in calls)} cached"))
        sources = sorted({str(run.waivers.source) for run in self.runs if run.waivers.source})
        if sources:
            rows.append(("Waivers", ", ".join(sources)))
        rows.append(("Integrity", "SHA-256 digests of this report and its companion files: SHA256SUMS beside it"))
        table = "".join(f"<tr><th scope='row'>{text(k)}</th><td>{text(v)}</td></tr>" for k, v in rows)
        notes = []
        if self.not_implemented:
            notes.append(f"<p class='dr-note'>Not evaluated (no check implemented yet): "
                         f"{text(', '.join(self.not_implemented))}.</p>")
        for note in dict.fromkeys(note for run in self.runs for note in run.notes):
            notes.append(f"<p class='dr-note'>{text(note)}</p>")
        return ("<section class='dr-run' aria-label='Run'><h2>The run</h2>"
                f"<table class='dr-environment' id='environment'>{table}</table>{''.join(notes)}</section>\n")

    # -- results table --

    def _filters(self) -> str:
        def select(name: str, label: str, values: list[str]) -> str:
            options = "".join(f"<option value='{attr(v)}'>{text(v)}</option>" for v in values)
            return (f"<label>{label} <select data-dr-filter='{name}'><option value=''>all</option>{options}"
                    f"</select></label>")

        categories = sorted({r.requirement.category for run in self.runs for r in run.results})
        installations = (select("installation", "installation", [run.name for run in self.runs])
                         if self.several else "")
        return ("<div class='dr-filters'>Show: " + installations
                + select("drstatus", "status", [str(s) for s in STATUS_ORDER])
                + select("category", "category", categories)
                + select("severity", "severity", list(SEVERITIES))
                + "<label>text <input type='search' data-dr-filter='text' size='18'></label>"
                + "<button type='button' class='dr-expand-all' aria-pressed='false'>Open every row</button>"
                + "<span class='dr-shown' aria-live='polite'></span></div>")

    def _results(self) -> Iterator[str]:
        total = sum(len(run.results) for run in self.runs)
        head = "".join(f"<th scope='col' class='col-{key}' data-sort='{key}'><button type='button' "
                       f"class='dr-sort'>{label}</button></th>" for key, label in self.columns)
        yield (f"<section class='dr-results' aria-label='Results'><h2>Results <span class='dr-count'>({total})</span>"
               "</h2><p class='dr-hint'>Every result that is not PASS comes first. A click on a row (or its "
               "requirement ID) opens its evidence; a column header sorts by it.</p>"
               + self._filters()
               + f"<table id='results-table' class='dr-results-table'><thead><tr>{head}</tr></thead>\n")
        origins: dict[str, SettingOrigins] = {}
        anchors = self.anchors
        group: str | None = None
        span = len(self.columns)
        for position, (run, result) in enumerate(self.rows):
            kind = "pass" if result.status is Status.PASS else "attention"
            if kind != group:
                group = kind
                label = ("PASS results: one line each" if kind == "pass"
                         else "Results that are not PASS (FAIL, ERROR, WAIVED, N/A), with their evidence")
                yield (f"<tbody class='dr-group dr-group-{kind}'><tr><th colspan='{span}' scope='colgroup'>"
                       f"{label}</th></tr></tbody>\n")
            if run.name not in origins:
                origins[run.name] = SettingOrigins(run)
            yield self._row(position, anchors[id(result)], run, result, origins[run.name]) + "\n"
        yield "</table></section>\n"

    def _row(self, position: int, anchor: str, run: Run, result: Result, origins: SettingOrigins) -> str:
        req = result.requirement
        status = str(result.status)
        cells = {
            "installation": text(run.name),
            "requirement": (f"<button type='button' class='dr-toggle' aria-expanded='false' aria-controls='{anchor}d'>"
                            f"{text(req.id)}</button><span class='dr-title'>{markdown(req.title)}</span>"),
            "severity": text(req.severity),
            "resource": text(result.resource),
            "drstatus": text(status),
            "message": text(result.message),
        }
        marked = {"drstatus": " " + status_class(status)}
        row = "".join(f"<td class='col-{key}{marked.get(key, '')}'>{cells[key]}</td>" for key, _ in self.columns)
        data = (f"data-order='{position}' data-drstatus='{attr(status)}' data-category='{attr(req.category)}' "
                f"data-severity='{attr(req.severity)}' data-installation='{attr(run.name)}' "
                f"data-requirement='{attr(req.id)}' data-resource='{attr(result.resource)}'")
        return (f"<tbody class='results-table-row dr-row-{'pass' if result.status is Status.PASS else 'attention'}' "
                f"id='{anchor}' {data}><tr class='dr-summary-row'>{row}</tr>"
                f"<tr class='dr-detail-row' id='{anchor}d' hidden><td colspan='{len(self.columns)}'>"
                f"{self._details(result, origins, anchor)}</td></tr></tbody>")

    def _details(self, result: Result, origins: SettingOrigins, anchor: str) -> str:
        req: Requirement = result.requirement
        rows = [("Requirement", f"<b>{text(req.id)}</b>: {markdown(req.title)}"),
                ("Status", f"<span class='{status_class(str(result.status))}'>{text(result.status)}</span>"),
                ("Observed", text(result.message)),
                ("Expected", markdown(req.expected))]
        if result.status is Status.ERROR:
            rows.append(("To evaluate it", text(how_to_observe(result.message, result.actions))))
        elif result.status is Status.NA:
            rows.append(("Not applicable when", markdown(req.not_applicable_when or "—")))
        else:
            rows.append(("Remediation", markdown(req.remediation)))
        if result.waiver:
            waiver = result.waiver
            rows.append(("Waiver", text(f"{waiver['owner']} until {waiver['expires']}"
                                        f"{' (EXPIRED)' if waiver.get('expired') else ''}: {waiver['reason']}")))
        rows += [("Why it matters", markdown(req.rationale)),
                 ("Source", text(req.source)),
                 ("Controls", text("; ".join(req.control_labels()))),
                 ("Resource", text(result.resource) + (f" ({text(result.region)})" if result.region else "")),
                 ("Checked at", text(result.timestamp)),
                 ("Result id", text(result.id)),
                 ("Check", f"<code>{text(result.test)}</code>")]
        table = "".join(f"<tr><th scope='row'>{k}</th><td>{v}</td></tr>" for k, v in rows)
        return (f"<table class='dr-detail'>{table}</table>"
                f"<div class='dr-evidence-tables'>{evidence_html(result, origins, anchor + 'j')}</div>")


def _previous_recovery_points(baseline: Mapping[str, Any] | None) -> dict[tuple[str, str, str], float]:
    """The recovery points an earlier run's dr-results.json recorded (``recovery_points``), by component."""
    found: dict[tuple[str, str, str], float] = {}
    for row in (baseline or {}).get("recovery_points") or []:
        if isinstance(row, dict) and isinstance(row.get("measured_seconds"), int | float):
            found[(str(row.get("component")), str(row.get("requirement")), str(row.get("resource")))] = float(
                row["measured_seconds"])
    return found
