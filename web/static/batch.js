// A batch's page: follows every file's state (/batches/{id}/status, every
// 2 s) until each is final, repainting only the rows that changed. Rows
// are <tr class="file" data-key="…" data-state="…">; #batch-final shows
// when every file is final.
"use strict";
(function () {
  const table = document.getElementById("files");
  const id = table.dataset.batch;
  const tbody = table.querySelector("tbody");
  const counts = document.getElementById("batch-counts");
  const finalNote = document.getElementById("batch-final");
  const rows = new Map();
  for (const tr of tbody.querySelectorAll("tr.file")) rows.set(tr.dataset.key, tr);
  const set = (el, text) => { if (el.textContent !== text) el.textContent = text; };
  function row(f) {
    let tr = rows.get(f.key);
    if (!tr) {
      const empty = tbody.querySelector("tr.empty");
      if (empty) empty.remove();
      tr = document.createElement("tr");
      tr.className = "file";
      tr.dataset.key = f.key;
      for (const cls of ["name", "num", "num pages", "dossier", "state", "detail", "results"]) {
        const td = document.createElement("td");
        td.className = cls;
        tr.appendChild(td);
      }
      tbody.appendChild(tr);
      rows.set(f.key, tr);
    }
    return tr;
  }
  function paint(st) {
    for (const f of st.files || []) {
      const tr = row(f);
      const sig = [f.state, f.state_text, f.detail, f.dossier_code, f.pages, (f.results || []).join(",")].join("|");
      if (tr.dataset.sig === sig) continue;
      tr.dataset.sig = sig;
      const c = tr.children;
      set(c[0], f.name);
      set(c[1], f.size_text);
      set(c[2], f.pages ? String(f.pages) : "");
      set(c[3], f.dossier_code || "");
      set(c[4], f.state_text);
      c[4].className = "state " + f.tone;
      set(c[5], f.detail || "");
      set(c[6], (f.results || []).join(", "));
      tr.dataset.state = f.state;
    }
    const frag = document.createDocumentFragment();
    for (const c of st.counts || []) {
      const span = document.createElement("span");
      span.className = "chip " + c.tone;
      span.dataset.state = c.state;
      span.textContent = c.text + ": " + c.n;
      frag.appendChild(span);
    }
    counts.replaceChildren(frag);
    table.dataset.final = st.final ? "1" : "0";
    finalNote.hidden = !st.final;
  }
  async function tick() {
    let done = false;
    try {
      const r = await fetch("/batches/" + encodeURIComponent(id) + "/status", { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (r.redirected || r.status === 401 || r.status === 403) return; // signed out: the next reload signs in
      if (r.ok) {
        const st = await r.json();
        paint(st);
        done = st.final && st.files && st.files.length > 0;
      }
    } catch (err) {
      // Offline for a moment: try again.
    }
    if (!done) setTimeout(tick, 2000);
  }
  if (table.dataset.final !== "1" || !rows.size) setTimeout(tick, 2000);
})();
