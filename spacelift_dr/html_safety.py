"""What keeps strings from the installation inert in the HTML report.

Names in the report come from the installation: bucket names from Terraform code, role ARNs, hosts,
secret names, messages that quote them. pytest-html once inserted test ids with ``innerHTML``, so a
Terraform backend ``bucket = "<img src=x onerror=…>"`` became script. Three layers, each enough on its own
for the cases it covers:

- parameter ids are reduced to a plain alphabet (:func:`safe_id`) before pytest ever sees them;
- the report writer (:mod:`spacelift_dr.report_html`) escapes every string where it is written;
- the written page carries its own Content-Security-Policy (``report_html``) that lets only the page's
  own script and styles apply (by hash): no inline event handler, no remote load, no form.
"""

from __future__ import annotations

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
