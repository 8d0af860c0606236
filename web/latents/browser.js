// The latent browser: reads window.LATENT_BROWSER (data.js, written by helpers.publish.latent_browser)
// and shows one SAE's latents as a searchable, sortable list and one latent's card. Works from a file
// or any static host: no request leaves the page. The address's hash names the latent (see route).
"use strict";
(function () {
  const record = window.LATENT_BROWSER;
  const LIST_LIMIT = 300;
  const KIND_NAMES = { "cross-width": "another width", "SAE seed": "another SAE seed", "seed control": "another LM seed" };
  const byKey = new Map(record.saes.map((sae) => [sae.key, sae]));
  const lookup = new Map();
  for (const [key, latents] of Object.entries(record.latents)) {
    lookup.set(key, new Map(latents.map((latent) => [latent.id, latent])));
    for (const latent of latents) {
      const others = latent.matches.filter((m) => m[0] === "cross-width" && m[3] !== null).map((m) => m[3]);
      latent.best_other_width = others.length ? Math.max(...others) : null;
      latent.top_token = latent.contexts.length ? latent.contexts[0][1] : "";
      latent.text = latent.contexts.map((c) => c.slice(0, 3).join("")).join(" ").toLowerCase();
    }
  }
  const el = (id) => document.getElementById(id);
  const saeSelect = el("sae"), sortSelect = el("sort"), search = el("search");
  let current = null;

  function number(value, digits = 3) {
    if (value === null || value === undefined) return "–";
    if (value !== 0 && Math.abs(value) < 1e-3) {
      const [mantissa, exponent] = value.toExponential(2).split("e");
      return `${mantissa} × 10${superscript(exponent)}`;
    }
    return value.toLocaleString("en-US", { maximumSignificantDigits: digits });
  }
  function superscript(exponent) {
    const map = { "-": "⁻", "+": "", 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹" };
    return [...exponent].map((c) => map[c]).join("");
  }
  // a token as it reads: spaces and tabs shown (⏎ marks a line break already)
  function visible(token) {
    return token === null || token === undefined ? "–" : token.replace(/ /g, "␣").replace(/\t/g, "⇥");
  }
  function node(tag, text, attributes = {}) {
    const n = document.createElement(tag);
    if (text !== undefined && text !== null) n.textContent = text;
    for (const [k, v] of Object.entries(attributes)) n.setAttribute(k, v);
    return n;
  }
  function latentLink(key, id) {
    const known = lookup.has(key) && lookup.get(key).has(id);
    return known ? node("a", `${key} #${id}`, { href: `#${key}/${id}` }) : node("span", `${key} #${id}`, { title: "not among the latents this page keeps" });
  }

  function describeScope() {
    const sae = record.saes[0];
    const limit = record.limit.toLocaleString("en-US");
    el("scope").textContent =
      `The ${record.preset} run's SAEs at ${record.site}, read over ${record.statistics_tokens.toLocaleString("en-US")} held-out tokens ` +
      `(windows of ${record.window}). Each SAE shows at most ${limit} of its live latents, spread evenly over the importance ranking, ` +
      `and every latent chapter 5's example table names; dead latents, the untrained models' SAEs and the second SAE seed's own latents ` +
      `are left out (the second seed still appears among the matches).` + (sae ? "" : " No SAE to show.");
  }

  function fillSaes() {
    for (const sae of record.saes) {
      const label = `${sae.key} (d_model ${sae.d_model}, ${sae.shown.toLocaleString("en-US")} of ${sae.live.toLocaleString("en-US")} live latents)`;
      saeSelect.append(node("option", label, { value: sae.key }));
    }
  }

  function showList() {
    const key = saeSelect.value;
    const query = search.value.trim().toLowerCase();
    const sortBy = sortSelect.value;
    let latents = record.latents[key] || [];
    if (query) latents = latents.filter((l) => String(l.id) === query || l.text.includes(query));
    latents = [...latents].sort((a, b) => (sortBy === "id" ? a.id - b.id : (b[sortBy] ?? -Infinity) - (a[sortBy] ?? -Infinity)));
    const body = el("list").tBodies[0];
    body.replaceChildren();
    for (const latent of latents.slice(0, LIST_LIMIT)) {
      const row = node("tr", null, { "data-latent": latent.id });
      row.append(node("td", `#${latent.id}`), node("td", number(latent.importance)), node("td", number(latent.frequency)),
        node("td", number(latent.token_likeness)), node("td", number(latent.best_other_width)), node("td", visible(latent.top_token), { class: "token" }));
      if (current && current.key === key && current.id === latent.id) row.classList.add("selected");
      row.addEventListener("click", () => { location.hash = `${key}/${latent.id}`; });
      body.append(row);
    }
    const shown = Math.min(latents.length, LIST_LIMIT);
    el("count").textContent = `${latents.length.toLocaleString("en-US")} latents match` + (shown < latents.length ? `; the first ${shown} are listed, narrow the search to see others.` : ".");
  }

  function histogram(latent) {
    const counts = latent.histogram.counts, top = Math.max(...counts, 1);
    const width = 420, height = 130, left = 36, bottom = 24, barWidth = (width - left - 4) / counts.length;
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("class", "histogram");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", `Histogram of the latent's non-zero activations from 0 to ${number(latent.histogram.max)}; the fullest bin holds ${top.toLocaleString("en-US")} tokens.`);
    const add = (tag, attributes, text) => {
      const n = document.createElementNS("http://www.w3.org/2000/svg", tag);
      for (const [k, v] of Object.entries(attributes)) n.setAttribute(k, v);
      if (text !== undefined) n.textContent = text;
      svg.append(n);
    };
    counts.forEach((count, i) => {
      const h = (Math.log1p(count) / Math.log1p(top)) * (height - bottom - 8);
      add("rect", { x: left + i * barWidth + 1, y: height - bottom - h, width: barWidth - 2, height: h });
    });
    add("text", { x: left, y: height - 8 }, "0");
    add("text", { x: width - 4, y: height - 8, "text-anchor": "end" }, `${number(latent.histogram.max)} (max)`);
    add("text", { x: 2, y: 12 }, top.toLocaleString("en-US"));
    add("text", { x: left + (width - left) / 2, y: height - 8, "text-anchor": "middle" }, "activation");
    add("text", { x: 2, y: 24 }, "tokens (log)");
    return svg;
  }

  function showCard(key, id) {
    const card = el("card");
    card.replaceChildren();
    const latent = lookup.has(key) ? lookup.get(key).get(id) : undefined;
    if (!latent) {
      card.append(node("p", `Latent ${key} #${id} is not among the latents this page keeps.`, { class: "hint" }));
      return;
    }
    const sae = byKey.get(key);
    card.append(node("h2", `${key} · latent #${id}`));
    const stats = node("dl", null, { class: "stats" });
    const rows = [
      ["model", `${sae.model} (d_model ${sae.d_model}), SAE seed ${sae.sae_seed}, ${sae.d_sae.toLocaleString("en-US")} latents`],
      ["importance (its max ÷ the SAE's largest max)", number(latent.importance)],
      ["max activation", number(latent.histogram.max)],
      ["frequency (share of tokens it fires on)", number(latent.frequency)],
      ["token-likeness (max r with one token's indicator)", `${number(latent.token_likeness)}, with ${visible(latent.likeness_token)}`],
      ["best r in another width", number(latent.best_other_width)],
      ["tokens its decoder promotes (W_dec · W_U)", (latent.promotes || []).map(visible).join(" · ")],
    ];
    for (const [term, value] of rows) stats.append(node("dt", term), node("dd", value));
    card.append(stats);
    card.append(node("h3", "Activations where it fires"));
    card.append(histogram(latent));
    card.append(node("h3", "Top-activating contexts (the token it fires on marked)"));
    const list = node("ol", null, { class: "contexts" });
    for (const [before, token, after, activation] of latent.contexts) {
      const item = node("li");
      const start = before ? node("span", before) : node("span", "⟨window start⟩ ", { class: "activation" });
      item.append(start, node("mark", token), node("span", after), node("span", `  ${number(activation)}`, { class: "activation" }));
      list.append(item);
    }
    card.append(list);
    card.append(node("h3", `Matches in the SAEs it was compared with (τ = ${record.match_threshold})`));
    const wrap = node("div", null, { class: "scroll" });
    const table = node("table");
    const head = node("tr");
    for (const h of ["compared with", "SAE", "best match", "its top token", "r", "one-to-one partner", "its top token", "r"]) head.append(node("th", h));
    const thead = node("thead");
    thead.append(head);
    table.append(thead);
    const body = node("tbody");
    for (const [kind, other, best, bestR, partner, partnerR] of latent.matches) {
      const row = node("tr");
      const bestCell = node("td"), partnerCell = node("td");
      bestCell.append(best >= 0 ? latentLink(other, best) : node("span", "–"));
      partnerCell.append(partner >= 0 ? latentLink(other, partner) : node("span", "none"));
      const topOf = (i) => node("td", i >= 0 && record.top_tokens && record.top_tokens[other] ? visible(record.top_tokens[other][i]) : "–", { class: "token" });
      row.append(node("td", KIND_NAMES[kind] || kind), node("td", other), bestCell, topOf(best), node("td", number(bestR)), partnerCell, topOf(partner), node("td", number(partnerR)));
      body.append(row);
    }
    table.append(body);
    wrap.append(table);
    card.append(wrap);
  }

  // #<model>/<SAE seed>/<latent>, or #<model>/<latent> for the model's SAE on this page
  function route() {
    const parts = decodeURIComponent(location.hash.slice(1)).split("/");
    const modelOnly = parts.length === 2 && record.saes.find((sae) => sae.model === parts[0]);
    if (modelOnly) parts.splice(1, 0, String(modelOnly.sae_seed));
    if (parts.length === 3 && byKey.has(`${parts[0]}/${parts[1]}`)) {
      const key = `${parts[0]}/${parts[1]}`;
      current = { key, id: Number(parts[2]) };
      if (saeSelect.value !== key) saeSelect.value = key;
      showList();
      showCard(key, current.id);
      el("card").scrollIntoView({ block: "start" });  // on a phone the card sits below the list
    } else {
      showList();
    }
  }

  describeScope();
  fillSaes();
  saeSelect.addEventListener("change", () => { search.value = ""; showList(); });
  sortSelect.addEventListener("change", showList);
  search.addEventListener("input", showList);
  window.addEventListener("hashchange", route);
  route();
})();
