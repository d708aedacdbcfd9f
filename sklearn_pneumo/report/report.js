// The review page of sklearn_pneumo: sorting, filters, search, pages and
// the detail view, over the rows written into index.html. No dependency, no
// network: the page works from file://.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("data").textContent);
  const rows = data.rows;
  const $ = (id) => document.getElementById(id);
  const state = { sort: data.labels ? "correct" : "index", desc: false, review: false,
                  wrong: false, q: "", page: 0 };
  const fixed = (digits) => (v) => (v === null || v === undefined ? "" : v.toFixed(digits));
  const columns = [
    { key: "index", label: "#", value: (r) => r.index, show: (r) => String(r.index + 1) },
    { key: "image", label: "X-ray", sortable: false },
    { key: "name", label: "File", value: (r) => r.name.toLowerCase(), show: (r) => r.name },
    { key: "prediction", label: "Prediction", value: (r) => r.prediction || null,
      show: (r) => r.prediction },
  ];
  if (data.labels) {
    columns.push({ key: "label", label: "Label", value: (r) => r.label || null,
                   show: (r) => r.label || "" });
    columns.push({ key: "correct", label: "Right?",
                   value: (r) => (r.correct === false ? 0 : r.correct === true ? 1 : 2),
                   show: (r) => (r.correct === undefined ? "" : r.correct ? "yes" : "WRONG") });
  }
  data.classes.forEach((name, c) => columns.push({
    key: "proba" + c, label: "P(" + name + ")", numeric: true,
    value: (r) => (r.proba ? r.proba[c] : null), show: (r) => fixed(3)(r.proba && r.proba[c]) }));
  const optional = [["uncertainty", "Uncertainty", 3], ["typicality", "Typicality", 2],
                    ["border_trimmed", "Border trimmed", 3]];
  for (const [key, label, digits] of optional) {
    if (data.columns.includes(key)) {
      columns.push({ key, label, numeric: true,
                     value: (r) => (r[key] === undefined ? null : r[key]),
                     show: (r) => fixed(digits)(r[key]) });
    }
  }
  if (data.columns.includes("outlier")) {
    columns.push({ key: "outlier", label: "Outlier", value: (r) => (r.outlier ? 1 : 0),
                   show: (r) => (r.outlier ? "FLAGGED" : "") });
  }
  columns.push({ key: "review", label: "Review", value: (r) => (r.review ? 1 : 0),
                 show: (r) => (r.review ? "review" : "") });
  columns.push({ key: "error", label: "Error", value: (r) => r.error || r.note || "",
                 show: (r) => r.error || r.note || "" });

  function readHash() {
    const params = new URLSearchParams(location.hash.slice(1));
    if (params.has("sort") && columns.some((c) => c.key === params.get("sort"))) {
      state.sort = params.get("sort");
    }
    state.desc = params.get("desc") === "1";
    state.review = params.get("review") === "1";
    state.wrong = params.get("wrong") === "1";
    state.q = params.get("q") || "";
    state.page = Math.max(0, parseInt(params.get("page") || "0", 10) || 0);
  }
  function writeHash() {
    const params = new URLSearchParams({ sort: state.sort, desc: state.desc ? "1" : "0",
      review: state.review ? "1" : "0", wrong: state.wrong ? "1" : "0", q: state.q,
      page: String(state.page) });
    history.replaceState(null, "", "#" + params.toString());
  }
  function selected() {
    const q = state.q.toLowerCase();
    const kept = rows.filter((r) => (!state.review || r.review) &&
      (!state.wrong || r.correct === false) && (!q || r.path.toLowerCase().includes(q)));
    const column = columns.find((c) => c.key === state.sort);
    const sign = state.desc ? -1 : 1;
    // Rows without a value (inputs that could not be read) come last either way.
    return kept.sort((a, b) => {
      const x = column.value(a), y = column.value(b);
      if (x === null || y === null) return (x === null) - (y === null) || a.index - b.index;
      return (x < y ? -sign : x > y ? sign : 0) || a.index - b.index;
    });
  }
  function cell(tag, text, className) {
    const element = document.createElement(tag);
    element.textContent = text;
    if (className) element.className = className;
    return element;
  }
  function thumbnail(r) {
    const td = document.createElement("td");
    if (!r.seen) return td;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "thumb stack";
    button.setAttribute("aria-label", "Open " + r.name);
    const seen = document.createElement("img");
    seen.loading = "lazy";
    seen.src = r.seen;
    seen.alt = r.name + " as the network saw it";
    button.appendChild(seen);
    if (r.heat) {
      const heat = document.createElement("img");
      heat.loading = "lazy";
      heat.src = r.heat;
      heat.className = "heat";
      heat.alt = "heatmap of where the network looked for " + r.prediction;
      button.appendChild(heat);
    }
    button.addEventListener("click", () => openDetail(r));
    td.appendChild(button);
    return td;
  }
  function renderHead() {
    const head = $("head");
    head.textContent = "";
    for (const column of columns) {
      const th = document.createElement("th");
      th.scope = "col";
      if (column.sortable === false) {
        th.textContent = column.label;
      } else {
        const button = cell("button", column.label);
        button.type = "button";
        button.dataset.key = column.key;
        button.addEventListener("click", () => {
          state.desc = state.sort === column.key ? !state.desc : false;
          state.sort = column.key;
          state.page = 0;
          render();
        });
        th.appendChild(button);
        if (state.sort === column.key) {
          th.setAttribute("aria-sort", state.desc ? "descending" : "ascending");
        }
      }
      head.appendChild(th);
    }
  }
  function render() {
    renderHead();
    const kept = selected();
    const pages = Math.max(1, Math.ceil(kept.length / data.page_size));
    state.page = Math.min(state.page, pages - 1);
    const body = $("body");
    body.textContent = "";
    const start = state.page * data.page_size;
    for (const r of kept.slice(start, start + data.page_size)) {
      const tr = document.createElement("tr");
      tr.dataset.index = String(r.index);
      if (r.review) tr.className = "review";
      if (r.error) tr.className = "error";
      for (const [i, column] of columns.entries()) {
        if (r.error && column.key === "prediction") {
          // Nothing to show but why: the reason spans the empty cells.
          const reason = cell("td", r.error, "reason");
          reason.colSpan = columns.length - i;
          tr.appendChild(reason);
          break;
        }
        if (column.key === "image") tr.appendChild(thumbnail(r));
        else tr.appendChild(cell("td", column.show(r), column.numeric ? "num"
                                 : column.key === "error" ? "reason" : ""));
      }
      body.appendChild(tr);
    }
    $("count").textContent = kept.length + " of " + rows.length + " shown";
    $("page").textContent = "page " + (state.page + 1) + " of " + pages;
    $("prev").disabled = state.page === 0;
    $("next").disabled = state.page >= pages - 1;
    writeHash();
  }
  function setOpacity(value) {
    document.documentElement.style.setProperty("--heat-opacity", value);
    $("opacity").value = value;
    $("detail-opacity").value = value;
  }
  function openDetail(r) {
    $("detail-title").textContent = r.name;
    $("detail-full").src = r.full || r.seen;
    $("detail-full").alt = "the X-ray " + r.name;
    $("detail-seen").src = r.seen;
    $("detail-seen").alt = r.name + " as the network saw it";
    $("detail-heat").hidden = !r.heat;
    if (r.heat) {
      $("detail-heat").src = r.heat;
      $("detail-heat").alt = "heatmap of where the network looked for " + r.prediction;
    }
    const facts = $("detail-facts");
    facts.textContent = "";
    for (const column of columns) {
      if (column.key === "image") continue;
      facts.appendChild(cell("dt", column.label));
      facts.appendChild(cell("dd", column.show(r)));
    }
    facts.appendChild(cell("dt", "Path"));
    facts.appendChild(cell("dd", r.path));
    $("detail").showModal();
  }
  readHash();
  $("search").value = state.q;
  $("review").checked = state.review;
  $("wrong").checked = state.wrong;
  $("wrong-label").hidden = !data.labels;
  $("search").addEventListener("input", (e) => { state.q = e.target.value; state.page = 0; render(); });
  $("review").addEventListener("change", (e) => { state.review = e.target.checked; state.page = 0; render(); });
  $("wrong").addEventListener("change", (e) => { state.wrong = e.target.checked; state.page = 0; render(); });
  $("prev").addEventListener("click", () => { state.page -= 1; render(); });
  $("next").addEventListener("click", () => { state.page += 1; render(); });
  $("opacity").addEventListener("input", (e) => setOpacity(e.target.value));
  $("detail-opacity").addEventListener("input", (e) => setOpacity(e.target.value));
  $("close").addEventListener("click", () => $("detail").close());
  setOpacity($("opacity").value);
  render();
})();
