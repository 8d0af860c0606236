"""The built book and chapter 2's widgets in a real browser (Debian's Chromium driven by Playwright).

Every page of the built book is loaded from a loopback server with every other host blocked; it
must make no failed request, log no console error, load every image, render its math and (in
chapter 2) its widgets. JupyterLab is started on loopback, chapter 2 is run in it, and moving the
sparsity slider must change the explorer's read-out and figure. Screenshots go to runs/browser/.

The tests need a built book (``make book``; ``BOOK_HTML`` points elsewhere) and Chromium at
``/usr/bin/chromium`` (``CHROMIUM`` overrides). Without them they skip with the reason, unless
``REQUIRE_BROWSER=1`` (set by ``make test-browser`` and ``.ci/run``), where they fail instead.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import nbformat
import pytest
import yaml

from helpers.core import paths
from helpers.core.numbers import sci

pytestmark = pytest.mark.browser

ROOT = paths.project_root()
SHOTS = ROOT / "runs" / "browser"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


#: TeX that MathJax should have typeset: display and inline delimiters, environments, and inline
#: math between single dollars (a letter, backslash or brace right after the opening dollar).
RAW_TEX = re.compile(r"\$\$|\\\(|\\begin\{|\$[A-Za-z\\{][^$\n]{0,80}\$")


def raw_tex(text: str) -> list[str]:
    """The pieces of ``text`` that look like TeX left untypeset."""
    return [m.group(0) for m in RAW_TEX.finditer(text)]


def test_raw_tex_catches_every_delimiter():
    assert raw_tex("the equal-$N$ pair") == ["$N$"]
    assert raw_tex(r"a $\alpha$ and $$x$$ and \(y\) and \begin{align}") == [r"$\alpha$", "$$", "$$", "\\(", "\\begin{"]
    assert raw_tex("costs $5 and $6; typeset N and α") == []


def unavailable(reason: str) -> None:
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium() -> str:
    path = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not Path(path).exists():
        unavailable(f"no Chromium at {path}: install Debian's chromium (apt-get install chromium) or set CHROMIUM")
    return path


@pytest.fixture(scope="module")
def html() -> Path:
    folder = Path(os.environ.get("BOOK_HTML", ROOT / "_build" / "html"))
    if not (folder / "index.html").exists():
        unavailable(f"no built book at {folder}: run `make book` first (or set BOOK_HTML)")
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(html):
    handler = functools.partial(QuietHandler, directory=str(html))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


class PageLog:
    """Everything a page did that a reader would notice going wrong."""

    def __init__(self, page, allowed_host: str) -> None:
        self.outside: list[str] = []
        self.failed: list[str] = []
        self.console_errors: list[str] = []
        page.route("**/*", self.route)
        page.on("requestfailed", lambda request: self.failed.append(f"{request.url} ({request.failure})"))
        page.on("response", lambda response: response.status >= 400 and self.failed.append(f"{response.url} ({response.status})"))
        page.on("console", lambda message: message.type == "error" and self.console_errors.append(message.text))
        page.on("pageerror", lambda error: self.console_errors.append(str(error)))
        self.allowed_host = allowed_host

    def route(self, route) -> None:
        url = route.request.url
        if urlparse(url).netloc == self.allowed_host or url.startswith(("data:", "blob:", "about:")):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()


def book_pages(html: Path) -> list[str]:
    skip = {"search.html", "genindex.html"}
    return sorted(
        p.relative_to(html).as_posix()
        for p in html.rglob("*.html")
        if not p.relative_to(html).as_posix().startswith(("_static/", "_sources/")) and p.name not in skip
    )


def test_the_book_has_every_chapter(html):
    pages = book_pages(html)
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    expected = {f"{entry['file']}.html" for entry in toc["chapters"]} | {f"{toc['root']}.html"}
    assert expected <= set(pages)


def test_every_page_renders_offline(html, server, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    report = {}
    for name in book_pages(html):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        log = PageLog(page, urlparse(server).netloc)
        page.goto(f"{server}/{name}", wait_until="networkidle")
        has_math = page.locator(".math").count() > 0
        if has_math:
            page.wait_for_function(
                "() => window.MathJax && MathJax.startup && MathJax.startup.promise && document.querySelectorAll('mjx-container').length > 0",
                timeout=30_000,
            )
            page.evaluate("() => MathJax.startup.promise")
        broken_images = page.evaluate(
            "() => Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0 && i.naturalHeight > 0))"
            ".map(i => i.currentSrc || i.src)"
        )
        # the prose as a reader sees it: code (where a "$" is Python or Matplotlib's mathtext) left out
        main_text = page.evaluate(
            "() => { const main = document.querySelector('main').cloneNode(true);"
            " main.querySelectorAll('pre, code, .cell_input').forEach(e => e.remove());"
            " document.body.appendChild(main); const text = main.innerText; main.remove();"
            " return text; }"
        )
        widgets = page.locator(".jupyter-widgets").count()
        unrendered_views = page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count()
        page.screenshot(path=str(SHOTS / (name.replace("/", "__").removesuffix(".html") + ".png")), full_page=True)
        report[name] = {
            "outside": log.outside,
            "failed": log.failed,
            "console_errors": log.console_errors,
            "broken_images": broken_images,
            "math": has_math,
            "widgets": widgets,
            "images": page.evaluate("() => document.images.length"),
        }
        page.close()
        problems = {k: v for k, v in report[name].items() if k in ("outside", "failed", "console_errors", "broken_images") and v}
        assert not problems, (name, problems)
        assert not raw_tex(main_text), (name, "raw LaTeX left", raw_tex(main_text))
        if name == "notebooks/02_superposition.html":
            assert widgets > 0 and unrendered_views > 0  # the view scripts stay; their widgets are drawn after them
            assert report[name]["images"] > 0
    (SHOTS / "pages.json").write_text(json.dumps(report, indent=2))
    for name, row in report.items():  # every <img> of the built page is there, and loaded (above)
        assert row["images"] >= (html / name).read_text().count("<img "), name
    assert sum(row["images"] for row in report.values()) > 10


#: Window widths every page must fit: a laptop and a phone.
WIDTHS = (1280, 390)


def test_pages_fit_laptop_and_phone_and_read_cleanly(html, server, browser):
    """At a laptop's and a phone's width, every page fits its window (wide tables scroll inside their
    own box), no table's box reaches under the contents sidebar, no figure is squashed (its shown
    aspect ratio within 2% of the picture's), no table header is snake_case and the
    prose holds no caret notation (N^−0.06, e^(…)), no e-notation (6.1e-06), no 'nan' and no 'within 0.0%'. Screenshots of both
    widths go to runs/browser/ (width-prefixed)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems = {}
    for width in WIDTHS:
        for name in book_pages(html):
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(f"{server}/{name}", wait_until="networkidle")
            found = page.evaluate(
                r"""() => {
                  const out = {page: document.documentElement.scrollWidth, window: window.innerWidth, covered: []};
                  const side = document.querySelector('.bd-sidebar-secondary');
                  const edge = side && side.getBoundingClientRect().width > 0 ? side.getBoundingClientRect().left : window.innerWidth;
                  for (const box of document.querySelectorAll('figure.table-output .output, .pst-scrollable-table-container')) {
                    const r = box.getBoundingClientRect();
                    if (r.right > edge + 1) out.covered.push(Math.round(r.right - edge));
                  }
                  out.squashed = Array.from(document.querySelectorAll('main img')).filter(i => i.naturalWidth > 0 && i.width > 0)
                    .filter(i => Math.abs((i.height / i.width) / (i.naturalHeight / i.naturalWidth) - 1) > 0.02).map(i => i.alt.slice(0, 60));
                  out.headers = Array.from(document.querySelectorAll('main th')).map(th => th.innerText.trim())
                    .filter(t => /^[a-z0-9]+(_[a-z0-9]+)+$/.test(t));
                  const main = document.querySelector('main').cloneNode(true);
                  main.querySelectorAll('pre, code, .cell_input, mjx-container, script').forEach(e => e.remove());
                  document.body.appendChild(main);
                  out.text = (main.innerText.match(/\^\(|\^[−-]?\d|\bnan\b|within 0\.0%|\d\.\d+e[+-]\d\d/g) || []);
                  main.remove();
                  return out;
                }"""
            )
            page.screenshot(path=str(SHOTS / f"{width}px__{name.replace('/', '__').removesuffix('.html')}.png"), full_page=True)
            page.close()
            if found["page"] > found["window"] or found["covered"] or found["squashed"] or found["headers"] or found["text"]:
                problems[f"{width}px {name}"] = found
    assert not problems, problems


def test_chapter_2_widgets_render_from_saved_state(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log = PageLog(page, urlparse(server).netloc)
    page.goto(f"{server}/notebooks/02_superposition.html", wait_until="networkidle")
    sliders = page.locator(".jupyter-widgets .widget-slider")
    sliders.first.wait_for(state="visible", timeout=30_000)
    assert sliders.count() >= 4  # the shape explorer's four sliders and the toy explorer's two
    assert page.get_by_text("Model B needs sparsity S").first.is_visible()
    figure = page.locator(".jupyter-widgets img").first
    assert figure.evaluate("img => img.naturalWidth") > 0
    # the saved state cannot answer a slider: the controls are inactive and the page says how to run them live
    assert sliders.first.evaluate("e => getComputedStyle(e).pointerEvents") == "none"
    notice = page.locator(".cell_output:has(.jupyter-widgets)").first.evaluate("e => getComputedStyle(e, '::before').content")
    assert "make lab" in notice and "Run All" in notice
    page.locator(".jupyter-widgets").first.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "chapter2_widgets.png"))
    assert not log.outside and not log.console_errors
    page.close()


def test_latent_browser_finds_shows_and_links_latents_offline(html, server, browser):
    """Chapter 5 links to the latent browser and its table's latents to their cards; in the browser a
    search finds a latent, its card shows its statistics, histogram, contexts (the firing token
    marked) and one row per match, and a match's link opens that latent's card: from the loopback
    server with every other host blocked, and from the file itself."""
    record = json.loads((html / "latents" / "latents.json").read_text())
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log = PageLog(page, urlparse(server).netloc)
    page.goto(f"{server}/notebooks/05_universality.html", wait_until="networkidle")
    assert page.locator('a[href="../latents/index.html"]').count() == 1
    card_links = page.locator('a[href^="../latents/index.html#"]')
    assert card_links.count() >= 2  # the example table's latents and their matches
    target = card_links.first.get_attribute("href").split("#")[1]  # <model>/<latent>
    card_links.first.click()
    page.wait_for_url(re.compile(r".*/latents/index\.html#.+"))
    model, latent = target.split("/")
    assert page.locator("#card h2").inner_text().startswith(f"{model}/") and page.locator("#card h2").inner_text().endswith(f"#{latent}")

    first_sae = record["saes"][0]["key"]
    assert page.locator("#sae option").count() == len(record["saes"])
    page.select_option("#sae", first_sae)
    chosen = record["latents"][first_sae][len(record["latents"][first_sae]) // 2]
    page.fill("#search", str(chosen["id"]))
    rows = page.locator("#list tbody tr")
    assert rows.count() == 1
    rows.first.click()
    card = page.locator("#card")
    card.locator("h2", has_text=re.compile(rf"^{re.escape(first_sae)} · latent #{chosen['id']}$")).wait_for(timeout=10_000)
    assert card.locator("svg.histogram rect").count() == len(chosen["histogram"]["counts"])
    assert card.locator("ol.contexts li").count() == len(chosen["contexts"]) > 0
    assert card.locator("ol.contexts li mark").first.inner_text() == chosen["contexts"][0][1]
    assert card.locator("table tbody tr").count() == len(chosen["matches"]) > 0
    page.screenshot(path=str(SHOTS / "latent_browser.png"))
    followed = card.locator("table tbody a").first
    other = followed.get_attribute("href").lstrip("#")
    followed.click()
    other_sae, other_latent = other.rsplit("/", 1)
    card.locator("h2", has_text=re.compile(rf"^{re.escape(other_sae)} · latent #{other_latent}$")).wait_for(timeout=10_000)
    assert not log.outside and not log.failed and not log.console_errors, (log.outside, log.failed, log.console_errors)
    page.close()

    page = browser.new_page(viewport={"width": 390, "height": 900})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto((html / "latents" / "index.html").as_uri() + f"#{first_sae}/{chosen['id']}")
    assert page.locator("#card h2").inner_text() == f"{first_sae} · latent #{chosen['id']}" and not errors
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.close()


# --------------------------------------------------------------------------------------------
# JupyterLab.


@pytest.fixture(scope="module")
def lab(tmp_path_factory, chromium):
    """JupyterLab on loopback serving a copy of chapter 2 set to the smoke preset's parameters."""
    folder = tmp_path_factory.mktemp("lab")
    notebook = nbformat.read(ROOT / "notebooks" / "02_superposition.ipynb", as_version=4)
    smoke = yaml.safe_load((ROOT / "presets" / "smoke.yaml").read_text())["02_superposition"]
    parameters = {**smoke, "preset": "smoke", "runs_dir": str(folder / "runs")}
    notebook.cells[1].source += "\n# smoke-sized for the browser test\n" + "\n".join(f"{k} = {v!r}" for k, v in parameters.items())
    nbformat.write(notebook, folder / "02_superposition.ipynb")
    token, port = secrets.token_hex(16), free_port()
    command = [
        str(Path(sys.executable).with_name("jupyter")),
        "lab",
        "--no-browser",
        f"--ServerApp.port={port}",
        "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={folder}",
        "--ServerApp.open_browser=False",
        "--LabApp.news_url=",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if os.getuid() == 0:
        command.append("--allow-root")
    settings = folder / ".jupyter" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    notebook_settings = folder / ".jupyter" / "lab" / "user-settings" / "@jupyterlab" / "notebook-extension"
    notebook_settings.mkdir(parents=True)  # every cell drawn at once, so that a test can read all of them
    (notebook_settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(folder / ".jupyter"),
        "JUPYTERLAB_SETTINGS_DIR": str(folder / ".jupyter" / "lab" / "user-settings"),
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }
    process = subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail("JupyterLab did not start within 90 s")
    yield url, token
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    shutil.rmtree(folder / ".jupyter", ignore_errors=True)


def test_jupyterlab_renders_the_myst_markdown(lab, browser):
    """JupyterLab shows the chapters' Markdown as the book does (jupyterlab-myst): math typeset, roles and
    directives rendered, none of their source (a fence, a role's braces, a dollar sign) left as text. The
    book's glued figures and numbers exist only in the built book: JupyterLab names a glue directive as
    unknown and shows a glued number's name, and each figure in its cell's output."""
    url, token = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/lab/tree/02_superposition.ipynb?token={token}")
    page.locator(".jp-MarkdownCell").first.wait_for(timeout=60_000)
    page.locator(".jp-MarkdownCell .katex").first.wait_for(timeout=30_000)
    page.wait_for_function(
        "() => { const cells = document.querySelectorAll('.jp-MarkdownCell'); return cells.length > 10 &&"
        " Array.from(cells).every(c => c.classList.contains('jp-mod-rendered')); }",
        timeout=30_000,
    )
    read = "() => Array.from(document.querySelectorAll('.jp-MarkdownCell')).map(c => c.innerText).join('\\n')"
    text, previous = page.evaluate(read), ""
    while text != previous:  # jupyterlab-myst renders cell by cell: read until nothing changes for a second
        page.wait_for_timeout(1000)
        text, previous = page.evaluate(read), text
    page.screenshot(path=str(SHOTS / "jupyterlab_myst.png"), full_page=True)
    page.close()
    assert len(text) > 3000  # every Markdown cell (the fixture turns JupyterLab's windowing off)
    leftovers = re.findall(r"```\{|:::\{|\{(?:numref|ref|glue:\w+|cite:\w+|download)\}`|\$\$|\\frac|\\mathbb", text)
    assert not leftovers, [text[max(text.index(x) - 200, 0) : text.index(x) + 200] for x in leftovers[:2]]


def test_jupyterlab_sparsity_slider_updates_readout_and_figure(lab, browser):
    url, token = lab
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{url}/lab/tree/02_superposition.ipynb?token={token}")
        page.locator(".jp-Notebook").first.wait_for(timeout=60_000)
        page.wait_for_function("() => window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel?.status === 'idle'", timeout=90_000)
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")  # Run → Run All Cells
        readout = page.locator(".jp-OutputArea .widget-html-content", has_text="Model B needs sparsity S").first
        readout.wait_for(timeout=120_000)
        explorer = (
            page.locator(".jp-OutputArea .widget-vbox").filter(has=page.locator(".widget-html-content", has_text="Model B needs sparsity S")).last
        )
        explorer.scroll_into_view_if_needed()
        slider = explorer.locator(".widget-slider", has_text="Model A's sparsity S").first
        before_text = readout.inner_text()
        figure = explorer.locator("img").first
        before_src = figure.get_attribute("src")
        explorer.screenshot(path=str(SHOTS / "jupyterlab_explorer_before.png"))
        handle = slider.locator(".noUi-handle").first
        handle.focus()
        for _ in range(5):
            page.keyboard.press("ArrowLeft")
        moved_to = float(slider.locator(".widget-readout").inner_text())
        assert moved_to < 0.99
        # the kernel answers every step; wait for the read-out of the final value, then for it to go idle
        readout.filter(has_text=f"vs {sci(1 - moved_to)}").wait_for(timeout=30_000)
        page.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'")
        page.wait_for_timeout(500)
        explorer.screenshot(path=str(SHOTS / "jupyterlab_explorer_after.png"))
        page.screenshot(path=str(SHOTS / "jupyterlab_after.png"))
        assert readout.inner_text() != before_text and figure.get_attribute("src") != before_src
    except Exception:
        page.screenshot(path=str(SHOTS / "jupyterlab_failure.png"))
        raise
    page.close()
