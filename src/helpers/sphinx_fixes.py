"""A Sphinx extension (listed in ``_config.yml``) that keeps the built pages free of console errors.

Some extensions (sphinx-thebe, sphinx-togglebutton) register their inline scripts again when the
environment is read, so a page can carry ``const THEBE_JS_URL = …`` twice, and the second
declaration is a SyntaxError in the browser. Each page keeps each script once, in order.
"""

from __future__ import annotations

from typing import Any


def script_key(script: Any) -> tuple:
    attributes = getattr(script, "attributes", {})
    return str(getattr(script, "filename", script) or ""), tuple(sorted((k, str(v)) for k, v in attributes.items()))


def _keep_each_script_once(app, pagename: str, templatename: str, context: dict, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app) -> dict[str, Any]:
    app.connect("html-page-context", _keep_each_script_once, priority=999)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
