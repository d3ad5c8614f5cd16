// The counter's upload page. A batch (one dossier) is opened on the intake
// API (POST /v1/batches), then each file is sent in its own request
// (POST /v1/batches/{id}/files, XMLHttpRequest for its upload progress),
// a few at a time, with the session cookie and the page's CSRF token. The
// files' states are then followed on /batches/{id}/status until each is
// final. Rows are painted at most once a frame, only those that changed,
// so hundreds of files do not freeze the page.
//
// Each file row is <tr class="file" data-state="…">; data-state is one of
// waiting, uploading, processing (sent, being recognised), then a final
// state: issued, partly_issued, review, rejected, kept, quarantined, or
// refused (not received: the reason is in the row). #all-final shows when
// every row is final.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const cfg = JSON.parse($("upload-config").textContent || "{}");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const texts = cfg.texts || {};
  const PARALLEL = 3;
  const POLL_MS = 2000;
  const SCAN = /\.(jpe?g|png|tiff?|pdf)$/i;
  const FINAL = new Set(["issued", "partly_issued", "review", "rejected", "kept", "quarantined", "refused"]);
  const LOCAL = {
    waiting: ["Chờ gửi", "busy"],
    uploading: ["Đang gửi", "busy"],
    processing: ["Đã tiếp nhận, đang xử lý", "busy"],
    refused: ["Không tiếp nhận", "bad"],
  };
  // The intake API's refusals of a request, as a clerk reads them.
  const refusals = {
    bad_request: "Máy chủ không đọc được tệp gửi lên; hãy gửi lại.",
    no_files: "Chưa chọn tệp nào để tải lên.",
    too_large: "Tệp quá lớn so với giới hạn cho phép.",
    too_slow: "Đường truyền quá chậm hoặc bị ngắt; hãy gửi lại.",
    cross_origin: "Yêu cầu bị từ chối vì được gửi từ một trang khác.",
    unavailable: "Hệ thống tạm thời gián đoạn; vui lòng thử lại sau ít phút.",
    forbidden: "Lô hồ sơ này thuộc đơn vị khác; không thể thêm tệp.",
    not_found: "Không tìm thấy lô hồ sơ; hãy tải lại trang và tạo lô mới.",
  };
  const reasonText = (code) => {
    const t = texts[code];
    return t ? t.charAt(0).toUpperCase() + t.slice(1) + "." : "Không tiếp nhận được tệp; hãy thử lại hoặc báo cán bộ quản trị.";
  };

  const form = $("upload-form"), drop = $("dropzone"), fileInput = $("file-input"), folderInput = $("folder-input");
  const procSel = $("procedure-select"), procCode = $("procedure-code"), dossier = $("dossier-code"), perFile = $("per-file");
  const startBtn = $("start-upload"), clearBtn = $("clear-files"), errBox = $("form-error");
  const table = $("files"), tbody = table.querySelector("tbody"), summary = $("summary"), allFinal = $("all-final");

  // Names are shown with long digit runs (a personal ID) masked.
  const maskName = (n) => n.replace(/[0-9]{9,}/g, (d) => d.slice(0, 2) + "•".repeat(d.length - 4) + d.slice(-2));
  const size = (n) => n >= 1048576 ? (n / 1048576).toFixed(1).replace(".", ",") + " MB" : n >= 1024 ? Math.round(n / 1024) + " KB" : n + " byte";

  const rows = [];           // every file row, in order added
  const byKey = new Map();   // input key → its rows (the same bytes twice)
  const queue = [];          // rows waiting to be sent
  let batch = null;          // the open batch (POST /v1/batches answer)
  let inflight = 0, stopped = false, polling = 0;

  // ---- painting ----
  const dirty = new Set();
  let frame = 0;
  function mark(row) {
    dirty.add(row);
    if (!frame) frame = requestAnimationFrame(flush);
  }
  function flush() {
    frame = 0;
    for (const row of dirty) paint(row);
    dirty.clear();
    paintSummary();
  }
  function set(el, text) { if (el.textContent !== text) el.textContent = text; }
  function paint(row) {
    const c = row.cells;
    if (row.tr.dataset.state !== row.state) row.tr.dataset.state = row.state;
    const [label, tone] = row.stateText ? [row.stateText, row.tone] : (LOCAL[row.state] || [row.state, "busy"]);
    set(c.state, label);
    const cls = "state " + tone;
    if (c.state.className !== cls) c.state.className = cls;
    set(c.detail, row.detail || "");
    set(c.dossier, row.dossier || "");
    if (row.state === "uploading" || row.state === "waiting") {
      c.bar.hidden = false;
      c.bar.max = row.size || 1;
      c.bar.value = row.loaded;
      set(c.pct, row.state === "waiting" ? "" : Math.floor(100 * row.loaded / (row.size || 1)) + "% · " + size(row.loaded) + " / " + size(row.size));
    } else {
      c.bar.hidden = true;
      set(c.pct, row.state === "refused" ? "" : "Đã gửi " + size(row.size));
    }
  }
  function paintSummary() {
    const n = {};
    let final = 0;
    for (const r of rows) {
      n[r.state] = (n[r.state] || 0) + 1;
      if (FINAL.has(r.state)) final++;
    }
    const parts = [rows.length + " tệp"];
    const say = [["waiting", "chờ gửi"], ["uploading", "đang gửi"], ["processing", "đang xử lý"], ["issued", "đã cấp kết quả"],
      ["partly_issued", "cấp một phần"], ["kept", "đã số hóa"], ["review", "chờ kiểm tra"], ["rejected", "bị từ chối"],
      ["quarantined", "tệp lỗi"], ["refused", "không tiếp nhận"]];
    for (const [s, t] of say) if (n[s]) parts.push(n[s] + " " + t);
    set(summary, rows.length ? parts.join(" · ") : "");
    table.dataset.pending = String(rows.length - final);
    allFinal.hidden = !(batch && rows.length && final === rows.length);
  }

  // ---- adding files ----
  function cell(tr, cls) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }
  function addFiles(files) {
    const frag = document.createDocumentFragment();
    for (const file of files) {
      const tr = document.createElement("tr");
      tr.className = "file";
      const name = cell(tr, "name");
      name.textContent = maskName(file.webkitRelativePath || file.name);
      cell(tr, "num").textContent = size(file.size);
      const up = cell(tr, "progress");
      const bar = document.createElement("progress");
      const pct = document.createElement("span");
      pct.className = "progress-text";
      up.append(bar, pct);
      const row = { file, size: file.size, loaded: 0, state: "waiting", tr, attempts: 0,
        cells: { bar, pct, dossier: cell(tr, "dossier"), state: cell(tr, "state"), detail: cell(tr, "detail") } };
      if (cfg.max_bytes && file.size > cfg.max_bytes) {
        row.state = "refused";
        row.detail = reasonText("too_large");
      } else if (file.size === 0) {
        row.state = "refused";
        row.detail = reasonText("empty");
      } else {
        queue.push(row);
      }
      rows.push(row);
      paint(row);
      frag.appendChild(tr);
    }
    tbody.appendChild(frag);
    table.hidden = rows.length === 0;
    paintSummary();
    if (batch) pump();
  }
  const hidden = (path) => path.split("/").some((p) => p.startsWith("."));
  // Files from a folder: scans only (a folder holds other things too).
  function fromFolder(files) {
    const out = [];
    let skipped = 0;
    for (const f of files) {
      const path = f.webkitRelativePath || f.name;
      if (hidden(path)) continue;
      if (SCAN.test(f.name)) out.push(f); else skipped++;
    }
    if (skipped) note("Đã bỏ qua " + skipped + " tệp trong thư mục không phải bản quét (chỉ nhận JPEG, PNG, TIFF, PDF).");
    return out;
  }
  function entryFile(entry) {
    return new Promise((resolve, reject) => entry.file(resolve, reject));
  }
  async function walk(dir, out) {
    const reader = dir.createReader();
    for (;;) {
      const batchOf = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
      if (!batchOf.length) return;
      for (const e of batchOf) {
        if (e.isFile) {
          const f = await entryFile(e);
          out.push(Object.defineProperty(f, "webkitRelativePath", { value: e.fullPath.replace(/^\//, "") }));
        } else if (e.isDirectory && !e.name.startsWith(".")) {
          await walk(e, out);
        }
      }
    }
  }
  async function dropped(dt) {
    // Entries must be taken while the event lasts; they are read after.
    const entries = [...dt.items].map((i) => (i.webkitGetAsEntry ? i.webkitGetAsEntry() : null));
    if (!entries.some((e) => e)) return addFiles([...dt.files]);
    const direct = [], inFolders = [];
    for (const e of entries) {
      if (!e) continue;
      try {
        if (e.isFile) direct.push(await entryFile(e));
        else if (e.isDirectory) await walk(e, inFolders);
      } catch (err) {
        note("Không đọc được một phần thư mục đã thả; hãy chọn lại bằng nút «Chọn thư mục».");
      }
    }
    addFiles(direct.concat(fromFolder(inFolders)));
  }

  // ---- the form ----
  function note(text) {
    errBox.textContent = text;
    errBox.hidden = !text;
  }
  const dossierRe = /^[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}-[0-9]{6}-[0-9]{4}$/;
  const procedureRe = /^[0-9]\.[0-9]{6}$/;
  function procedure() { return procSel.value === "other" ? procCode.value.trim() : procSel.value; }
  function validate() {
    const d = dossier.value.trim().toUpperCase();
    dossier.value = d;
    dossier.removeAttribute("aria-invalid");
    procCode.removeAttribute("aria-invalid");
    if (d && !dossierRe.test(d)) {
      dossier.setAttribute("aria-invalid", "true");
      return "Mã hồ sơ không đúng định dạng: cần dạng " + (cfg.agency || "000.00.31.H29") + "-250718-0042 (mã cơ quan, ngày tiếp nhận YYMMDD, số thứ tự 4 chữ số).";
    }
    if (d && cfg.agency && !d.startsWith(cfg.agency + "-")) {
      dossier.setAttribute("aria-invalid", "true");
      return "Mã hồ sơ phải bắt đầu bằng mã cơ quan " + cfg.agency + ".";
    }
    if (d && perFile.checked) return reasonText("dossier_code_per_file");
    const p = procedure();
    if (procSel.value === "other" && !p) {
      procCode.setAttribute("aria-invalid", "true");
      return "Hãy nhập mã thủ tục hành chính, hoặc chọn một thủ tục trong danh sách.";
    }
    if (p && !procedureRe.test(p) && !(cfg.procedures || []).includes(p)) {
      procCode.setAttribute("aria-invalid", "true");
      return "Mã thủ tục hành chính không đúng định dạng: cần dạng 1.004873 (theo Cơ sở dữ liệu quốc gia về thủ tục hành chính) hoặc một mã trong danh sách.";
    }
    return "";
  }
  procSel.addEventListener("change", () => {
    procCode.hidden = procSel.value !== "other";
    if (!procCode.hidden) procCode.focus();
  });
  perFile.addEventListener("change", () => { dossier.disabled = perFile.checked; });
  dossier.addEventListener("input", () => { perFile.disabled = dossier.value.trim() !== ""; });

  fileInput.addEventListener("change", () => { addFiles([...fileInput.files]); fileInput.value = ""; });
  folderInput.addEventListener("change", () => { addFiles(fromFolder([...folderInput.files])); folderInput.value = ""; });
  drop.addEventListener("click", (e) => { if (e.target === drop || e.target.tagName === "P") fileInput.click(); });
  drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); fileInput.click(); } });
  for (const ev of ["dragenter", "dragover"]) drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); });
  for (const ev of ["dragleave", "dragend"]) drop.addEventListener(ev, () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); dropped(e.dataTransfer); });
  // A file dropped beside the zone must not navigate away from the page.
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());
  window.addEventListener("beforeunload", (e) => {
    if (queue.length || inflight) { e.preventDefault(); e.returnValue = ""; }
  });

  clearBtn.addEventListener("click", () => {
    const drop = new Set(queue.splice(0));
    for (let i = rows.length - 1; i >= 0; i--) {
      const r = rows[i];
      if (drop.has(r) || (!batch && r.state === "refused")) {
        r.tr.remove();
        rows.splice(i, 1);
      }
    }
    table.hidden = rows.length === 0;
    paintSummary();
  });

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (batch) return;
    const problem = validate();
    if (problem) return note(problem);
    if (!queue.length) return note("Chưa chọn tệp nào để tải lên: kéo thả tệp, thư mục, hoặc bấm «Chọn tệp».");
    note("");
    startBtn.disabled = true;
    let r, body;
    try {
      r = await fetch("/v1/batches", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ dossier_code: dossier.value.trim(), procedure_code: procedure(), dossier_per_file: perFile.checked }),
      });
      body = await r.json().catch(() => ({}));
    } catch (err) {
      startBtn.disabled = false;
      return note("Không kết nối được máy chủ. Kiểm tra mạng rồi bấm «Tải lên» lần nữa.");
    }
    if (r.status === 401) return signedOut();
    if (r.status !== 201) {
      startBtn.disabled = false;
      const code = body.error && body.error.code;
      return note(texts[code] ? reasonText(code) : refusals[code] || "Không tạo được lô hồ sơ (lỗi " + r.status + "); hãy thử lại.");
    }
    batch = body;
    for (const el of [procSel, procCode, dossier, perFile]) el.disabled = true;
    startBtn.hidden = true;
    form.classList.add("started");
    drop.querySelector(".drop-title").textContent = "Thả thêm tệp của hồ sơ này vào đây";
    $("new-batch").hidden = false;
    const link = $("batch-link");
    link.href = "/batches/" + encodeURIComponent(batch.batch_id);
    link.textContent = batch.batch_id;
    $("receipt-link").href = link.href + "/receipt";
    $("batch-dossier").textContent = batch.dossier_per_file ? "mỗi tệp một mã hồ sơ" : batch.dossier_code;
    $("batch-info").hidden = false;
    pump();
    poll();
  });

  // ---- sending ----
  function pump() {
    while (!stopped && batch && inflight < PARALLEL && queue.length) send(queue.shift());
  }
  function later(row, ms, why) {
    row.state = "waiting";
    row.loaded = 0;
    row.detail = why;
    mark(row);
    setTimeout(() => { queue.unshift(row); pump(); }, ms);
  }
  function refuse(row, why) {
    row.state = "refused";
    row.detail = why;
    mark(row);
  }
  function send(row) {
    inflight++;
    row.state = "uploading";
    row.loaded = 0;
    row.detail = "";
    row.attempts++;
    mark(row);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/v1/batches/" + encodeURIComponent(batch.batch_id) + "/files");
    xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.upload.onprogress = (e) => { row.loaded = e.loaded; mark(row); };
    const done = () => { inflight--; pump(); };
    xhr.onload = () => {
      done();
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (err) { /* not JSON */ }
      answered(row, xhr, body);
    };
    xhr.onerror = xhr.ontimeout = () => {
      done();
      retry(row, "Mất kết nối khi gửi; đang thử lại.");
    };
    const fd = new FormData();
    fd.append("files", row.file, row.file.name);
    xhr.send(fd);
  }
  function retry(row, why, ms) {
    if (row.attempts >= 5) return refuse(row, "Không gửi được tệp sau nhiều lần thử; hãy kiểm tra mạng rồi gửi lại tệp này.");
    later(row, ms || 1000 * 2 ** row.attempts, why);
  }
  function answered(row, xhr, body) {
    const status = xhr.status;
    if (status === 401) return signedOut();
    const f = body.files && body.files[0];
    if (!f) {
      const code = body.error && body.error.code;
      if (status === 429) return later(row, 1000 * (Number(xhr.getResponseHeader("Retry-After")) || 10), reasonText("rate_limited"));
      if (status >= 500 || status === 408 || code === "too_slow") return retry(row, refusals[code] || refusals.unavailable);
      return refuse(row, refusals[code] || "Không gửi được tệp (lỗi " + status + ").");
    }
    if (f.status === "rejected") {
      if (f.reason === "rate_limited") return later(row, 1000 * (Number(xhr.getResponseHeader("Retry-After")) || 10), reasonText("rate_limited"));
      if (f.reason === "unavailable" || f.reason === "upload_interrupted") return retry(row, reasonText(f.reason));
      return refuse(row, reasonText(f.reason));
    }
    row.key = f.input_key;
    row.dossier = f.dossier_code || "";
    row.loaded = row.size;
    row.state = "processing";
    row.detail = f.status === "already_queued" ? "Tệp này đã được tiếp nhận trước đó; giữ nguyên mã hồ sơ lần đầu." :
      f.status === "stored_not_queued" ? reasonText("stored_not_queued") : "";
    if (!byKey.has(row.key)) byKey.set(row.key, []);
    byKey.get(row.key).push(row);
    mark(row);
    poll();
  }
  function signedOut() {
    stopped = true;
    for (const r of queue.splice(0)) refuse(r, "Chưa gửi: phiên đăng nhập đã kết thúc.");
    note("Phiên đăng nhập đã kết thúc. Hãy đăng nhập lại (các tệp đã gửi vẫn được lưu), rồi gửi lại các tệp chưa gửi.");
    const a = document.createElement("a");
    a.href = "/signin?next=/";
    a.textContent = " Đăng nhập lại";
    errBox.appendChild(a);
  }

  // ---- following the files ----
  function moving() {
    return inflight > 0 || queue.length > 0 || rows.some((r) => r.key && !FINAL.has(r.state));
  }
  function poll() {
    if (polling || !batch || stopped) return;
    polling = setTimeout(tick, POLL_MS);
  }
  async function tick() {
    try {
      const r = await fetch("/batches/" + encodeURIComponent(batch.batch_id) + "/status", { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (r.redirected || r.status === 401) { polling = 0; return signedOut(); }
      if (r.ok) {
        const st = await r.json();
        for (const f of st.files || []) {
          const sig = [f.state, f.state_text, f.detail, f.dossier_code, (f.results || []).join(",")].join("|");
          for (const row of byKey.get(f.key) || []) {
            if (row.sig === sig) continue;
            row.sig = sig;
            row.state = f.state;
            row.stateText = f.state === "processing" ? "" : f.state_text;
            row.tone = f.tone;
            row.dossier = f.dossier_code || row.dossier;
            row.detail = [f.detail, (f.results || []).length ? "Mã kết quả: " + f.results.join(", ") : ""].filter(Boolean).join(" · ");
            if (f.state === "processing" && !f.detail) row.detail = "";
            mark(row);
          }
        }
      }
    } catch (err) {
      // The network came back or not: the next tick tells.
    }
    polling = 0;
    if (moving()) poll();
  }
})();
