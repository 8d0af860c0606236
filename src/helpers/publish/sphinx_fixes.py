"""A Sphinx extension (listed in ``_config.yml``): pages free of console errors, and the PDF linked.

Some extensions (sphinx-thebe, sphinx-togglebutton) register their inline scripts again when the
environment is read, so a page can carry ``const THEBE_JS_URL = …`` twice, and the second
declaration is a SyntaxError in the browser. Each page keeps each script once, in order, and none
of Thebe's (the book is run live through its launch button; Thebe's defaults name another repository).

For the PDF (the LaTeX builder), the book is laid out as a paper and shows only what the pages
show before any click (see :func:`_paper_layout`, :func:`_hide_what_the_html_hides`).

A pasted output (``{glue:figure}``) that holds a table rather than an image is numbered and
referenced as a table (Table 3.1, its caption above it), in the HTML and in the PDF
(:class:`table_output`, :class:`TablesAreTables`); in the HTML the table follows its caption
rather than sitting inside it, and scrolls sideways within the page (``web/book.css``).

When the build's ``book_pdf`` names the book's PDF (a path relative to the site, set by the runner
when one was built), every page's download menu gets an entry for it beside the page's own files.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx.transforms import SphinxTransform
from sphinx.transforms.post_transforms import SphinxPostTransform

#: The root page's section that follows the abstract in the PDF (the findings at a glance).
FINDINGS_ID = "findings-at-a-glance"
#: The root page's sections that open the PDF after the abstract, in this order; its others become appendices.
LEADING_IDS = (FINDINGS_ID, "what-the-book-does")
#: Mime types that make a pasted output a figure rather than a table.
PICTURE_MIME_PREFIXES = ("image/", "application/pdf", "application/vnd.jupyter.widget-view")


class table_output(nodes.figure):  # noqa: N801 (docutils names node classes in lower case)
    """A pasted output that is a table: a figure node that Sphinx numbers among the tables."""


class TablesAreTables(SphinxTransform):
    """Turn each pasted figure whose outputs carry no picture into a :class:`table_output`, its caption first."""

    default_priority = 500

    def apply(self, **kwargs: Any) -> None:
        for figure in list(self.document.findall(nodes.figure)):
            bundles = [n for n in figure.findall(nodes.container) if n.get("nb_element") == "mime_bundle"]
            mime_types = [child.get("mime_type", "") for bundle in bundles for child in bundle.children]
            if type(figure) is not nodes.figure or not mime_types or any(m.startswith(PICTURE_MIME_PREFIXES) for m in mime_types):
                continue
            captions = [child for child in figure.children if isinstance(child, nodes.caption)]
            rest = [child for child in figure.children if not isinstance(child, nodes.caption)]
            # HTML closes a figure's <figcaption> only with the figure, so a table after its caption would sit
            # inside the caption (styled as one): close it right after the caption (other builders skip raw HTML).
            closing = [nodes.raw("", "</figcaption>\n", format="html")] if captions else []
            table = table_output(figure.rawsource, *captions, *closing, *rest, **figure.attributes)
            table.source, table.line = figure.source, figure.line
            figure.replace_self(table)
            for node_id in table["ids"]:  # references find their target through the document's ids
                self.document.ids[node_id] = table


class AltFromCaption(SphinxPostTransform):
    """A pasted figure's image is described by its caption (a screen reader otherwise reads a file path),
    read after cross-references are resolved ("Table 3.2", not the label it points to)."""

    default_priority = 20  # after sphinx's ReferencesResolver (10)

    def run(self, **kwargs: Any) -> None:
        for figure in self.document.findall(nodes.figure):
            captions = [child for child in figure.children if isinstance(child, nodes.caption)]
            if not captions:
                continue
            text = " ".join(captions[0].astext().split())
            for image in figure.findall(nodes.image):
                alt = image.get("alt", "")
                if not alt or "/" in alt or alt.endswith((".png", ".svg", ".jpg", ".pdf")):
                    image["alt"] = text


def _visit_table_html(self, node) -> None:
    """A ``<figure class="table-output">`` (styled by ``web/book.css``): caption, then the table in its own scroll box."""
    self.body.append(self.starttag(node, "figure", CLASS="align-default table-output"))


def _depart_table_html(self, node) -> None:
    self.body.append("</figure>\n")


LONG_TABLE = "\\begin{longtable}"


def _visit_table_latex(self, node) -> None:
    """A float holding the caption, then the table; a ``longtable`` (:mod:`helpers.publish.pdf_tables`) breaks
    across pages and takes the caption as its first row instead, so its opening is moved before it."""
    raw = next((r for r in node.findall(nodes.raw) if LONG_TABLE in r.astext()), None)
    if raw is None:
        self.body.append("\n\\begin{table}[htbp]\n\\centering\n")
        return
    text = raw.astext()
    split = text.index("\n", text.index(LONG_TABLE)) + 1
    self.body.append("\n" + text[:split])
    raw.children = [nodes.Text("\\\\\n" + text[split:])]  # ends the caption's row
    node["long_table"] = True


def _depart_table_latex(self, node) -> None:
    if not node.get("long_table"):
        self.body.append("\\end{table}\n\n")


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


def _is_thebe(script: Any) -> bool:
    filename, attributes = script_key(script)
    return filename.endswith("sphinx-thebe.js") or any(k == "body" and "THEBE_JS_URL" in v for k, v in attributes)


def _no_thebe_scripts(app, pagename: str, templatename: str, context: dict, doctree) -> None:
    """The book runs live through its launch button (JupyterLab on a BinderHub), never through Thebe:
    leave out sphinx-thebe's scripts, whose defaults point at another repository and an outside host."""
    if context.get("script_files"):
        context["script_files"] = [s for s in context["script_files"] if not _is_thebe(s)]


def _no_thebe_config(app, doctree, docname: str) -> None:
    """Drop the Thebe configuration sphinx-thebe appends to every page (see :func:`_no_thebe_scripts`)."""
    for node in list(doctree.findall(nodes.raw)):
        if "text/x-thebe-config" in node.astext() or node.astext().startswith("<script>kernelName = "):
            node.parent.remove(node)


def _link_the_pdf(app, pagename: str, templatename: str, context: dict, doctree) -> None:
    pdf = app.config.book_pdf
    groups = [b for b in context.get("header_buttons", []) if b.get("label") == "download-buttons"]
    if not pdf or not groups:
        return
    groups[0]["buttons"].insert(
        0,
        {
            "type": "link",
            "url": context["pathto"](pdf, 1),
            "text": "book (.pdf)",
            "tooltip": "Download the whole book as a PDF",
            "icon": "fas fa-book",
            "label": "download-book-pdf-button",
        },
    )


def _paper_layout(app, doctree, docname: str) -> None:
    """The PDF as a paper: the root page's opening paragraphs as the abstract, its findings at a glance
    and what the book does next (unnumbered chapters), every chapter of the table of contents a numbered chapter (not a section of "Chapters"),
    and the root page's other sections after them as appendices. Runs on the LaTeX builder's one assembled document."""
    from docutils import nodes
    from sphinx import addnodes

    if app.builder.name != "latex" or docname != app.config.root_doc:
        return
    root = next(iter(doctree.findall(nodes.section)))
    chapters = [node for node in root.findall(addnodes.start_of_file) if not any(isinstance(a, addnodes.start_of_file) for a in _ancestors(node))]
    chapters = [node for node in chapters if not _only_a_title(node)]  # the references page: LaTeX sets the bibliography at the end
    if not chapters:
        return
    holder = next(a for a in _ancestors(chapters[0]) if a.parent is root)  # the root's section holding the toctree
    opening = [child for child in root.children if not isinstance(child, (nodes.section, nodes.title))]
    for node in chapters:
        node.parent.remove(node)
    root.remove(holder)
    sections = [child for child in root.children if isinstance(child, nodes.section)]
    leading = [child for leading_id in LEADING_IDS for child in sections if leading_id in child["ids"]]
    appendices = [child for child in sections if child not in leading]
    for child in opening + sections:
        root.remove(child)
    abstract = [nodes.raw("", r"\begin{abstract}", format="latex"), *opening, nodes.raw("", r"\end{abstract}", format="latex")]
    root += [*abstract, *[node for section in leading for node in _unnumbered_chapter(section)], *chapters]
    if appendices:
        root += [nodes.raw("", r"\appendix", format="latex"), *appendices]


def _unnumbered_chapter(section) -> list:
    """A section's content as an unnumbered chapter listed in the contents, so that the numbered
    chapters after it keep the HTML's numbers."""
    from docutils import nodes

    title = section.next_node(nodes.title).astext()
    heading = nodes.raw("", f"\\chapter*{{{title}}}\\addcontentsline{{toc}}{{chapter}}{{{title}}}\n", format="latex")
    return [heading, *(child for child in section.children if not isinstance(child, nodes.title))]


def _hide_what_the_html_hides(app, doctree, docname: str) -> None:
    """In the PDF, a notebook cell tagged ``hide-cell`` or ``remove-cell`` is left out and one tagged
    ``hide-input`` keeps its output only: the PDF shows what the HTML shows before any click."""
    from docutils import nodes

    if app.builder.name != "latex":
        return
    for cell in list(doctree.findall(lambda n: isinstance(n, nodes.container) and "cell" in n["classes"])):
        tags = {c.removeprefix("tag_") for c in cell["classes"] if c.startswith("tag_")}
        if tags & {"hide-cell", "remove-cell", "remove_cell"}:
            cell.parent.remove(cell)
        elif tags & {"hide-input", "remove-input", "remove_input"}:
            for part in [c for c in cell.children if isinstance(c, nodes.container) and "cell_input" in c["classes"]]:
                cell.remove(part)


def _only_a_title(node) -> bool:
    """Whether a chapter shows nothing but its title: all its text is in titles, and it has no picture
    (the references page, once the LaTeX builder has moved the citations to the end)."""
    from docutils import nodes

    return all(isinstance(text.parent, nodes.title) for text in node.findall(nodes.Text) if text.strip()) and not any(
        node.findall(lambda n: isinstance(n, (nodes.image, nodes.raw)))
    )


def _ancestors(node) -> list:
    out = []
    while node.parent is not None:
        node = node.parent
        out.append(node)
    return out


def setup(app) -> dict[str, Any]:
    app.add_config_value("book_pdf", "", "html")
    app.add_enumerable_node(table_output, "table", html=(_visit_table_html, _depart_table_html), latex=(_visit_table_latex, _depart_table_latex))
    app.add_transform(TablesAreTables)
    app.add_post_transform(AltFromCaption)
    app.connect("doctree-resolved", _paper_layout)
    app.connect("doctree-resolved", _hide_what_the_html_hides)
    app.connect("doctree-resolved", _no_thebe_config, priority=900)
    app.connect("html-page-context", _keep_each_script_once, priority=999)
    app.connect("html-page-context", _no_thebe_scripts, priority=999)
    app.connect("html-page-context", _link_the_pdf, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
