"""What keeps strings from the installation inert in the HTML report.

Names in the report come from the installation: bucket names from Terraform code, role ARNs, hosts,
secret names, messages that quote them. pytest-html inserts test ids and environment values with
``innerHTML``, so a Terraform backend ``bucket = "<img src=x onerror=…>"`` once became script. Three
layers, each enough on its own for the cases it covers:

- parameter ids are reduced to a plain alphabet (:func:`safe_id`) before pytest ever sees them;
- every string the report code writes is escaped where it is written (``fixtures/report.py``);
- the written page carries a Content-Security-Policy (:func:`with_content_security_policy`) that lets
  only the page's own inline scripts run (by hash): no inline event handler, no remote load, no form.
"""

from __future__ import annotations

import base64
import hashlib
import re

# Characters a parameter id keeps: enough for bucket names, ARNs, paths, host specs and setting names.
_ID_CHARACTERS = re.compile(r"[^A-Za-z0-9_.:/@+=,~-]")
MAX_ID_LENGTH = 200


def safe_id(value: object) -> str:
    """``value`` as a pytest parameter id that no HTML or shell can read as markup or syntax."""
    text = _ID_CHARACTERS.sub("_", str(value))
    return text[:MAX_ID_LENGTH] or "_"


def safe_ids(values: list[object]) -> list[str]:
    """:func:`safe_id` of each value, made unique again where two values reduce to the same id."""
    ids = [safe_id(v) for v in values]
    seen: dict[str, int] = {}
    unique = []
    for candidate in ids:
        if ids.count(candidate) > 1:
            seen[candidate] = seen.get(candidate, 0) + 1
            candidate = f"{candidate}~{seen[candidate]}"
        unique.append(candidate)
    return unique


_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)
_HEAD = re.compile(r"<head[^>]*>", re.IGNORECASE)


def content_security_policy(html: str) -> str:
    """The policy for this page: its own inline scripts (by SHA-256), inline styles and data: images;
    nothing else, from anywhere."""
    hashes = sorted({"'sha256-" + base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode() + "'"
                     for body in _INLINE_SCRIPT.findall(html)})
    return ("default-src 'none'; script-src " + (" ".join(hashes) or "'none'")
            + "; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'")


# pytest-html's "reload while tests run" button is the page's one inline event handler; a written report
# is finished, and under the policy the handler would only be refused.
_RELOAD_HANDLER = ' onclick="location.reload()"'


def with_content_security_policy(html: str) -> str:
    """``html`` with its Content-Security-Policy as the first element of its head (a meta policy
    applies only from where it stands, and only in the head)."""
    if 'http-equiv="Content-Security-Policy"' in html:
        return html
    html = html.replace(_RELOAD_HANDLER, "")
    meta = f'<meta http-equiv="Content-Security-Policy" content="{content_security_policy(html)}">'
    found = _HEAD.search(html)
    if found is None:
        return meta + html
    return html[:found.end()] + meta + html[found.end():]
