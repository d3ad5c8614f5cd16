// The counter's upload page: sends the batch to the intake API with the
// session cookie and the page's CSRF token, then follows each file.
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const labels = {
    queued: ["Đã tiếp nhận, đang chờ xử lý", "ok"],
    already_queued: ["Tệp đã được tiếp nhận trước đó", "ok"],
    stored_not_queued: ["Đã lưu, sẽ xử lý khi hàng đợi sẵn sàng", "warn"],
    rejected: ["Không tiếp nhận được", "bad"],
    processing: ["Đang nhận dạng (OCR)", "ok"],
    issued: ["Đã cấp kết quả điện tử", "ok"],
    partly_issued: ["Đã cấp một phần, phần còn lại cần kiểm tra", "warn"],
    review: ["Cần cán bộ kiểm tra", "warn"],
    kept: ["Đã số hóa thành phần hồ sơ", "ok"],
    quarantined: ["Tệp lỗi, đã cách ly", "bad"],
  };
  // Reason code → Vietnamese text (pipeline/reasons.go, given by the page);
  // a code without a text is shown as it is.
  const reasons = JSON.parse(document.getElementById("reason-texts").textContent || "{}");
  const reasonText = (code) => reasons[code] || code;
  // The intake API's refusals, as a clerk reads them.
  const refusals = {
    bad_dossier_code: "Mã hồ sơ không đúng dạng (ví dụ 000.00.31.H29-250718-0042).",
    no_files: "Chưa chọn tệp nào để tải lên.",
    too_large: "Lô tệp quá lớn; hãy chia thành nhiều lần tải lên.",
    too_slow: "Đường truyền quá chậm hoặc bị ngắt; hãy tải lên lại.",
    bad_request: "Máy chủ không đọc được lô tệp gửi lên; hãy tải lên lại.",
    cross_origin: "Yêu cầu bị từ chối vì được gửi từ một trang khác.",
    unavailable: "Hệ thống tạm thời gián đoạn; vui lòng thử lại sau ít phút.",
  };
  const tbody = document.querySelector("#results tbody");
  function cell(tr, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }
  function problem(status, detail) {
    const tr = document.createElement("tr");
    cell(tr, "—"); cell(tr, ""); cell(tr, status, "bad"); cell(tr, detail);
    tbody.appendChild(tr);
  }
  function signedOut() {
    problem("Phiên làm việc đã kết thúc", "Hãy đăng nhập lại rồi tải lên lần nữa.");
    const a = document.createElement("a");
    a.href = "/signin"; a.textContent = "Đăng nhập lại";
    tbody.lastChild.lastChild.append(" ", a);
  }
  function show(row, st) {
    const [text, cls] = labels[st.state || st.status] || [st.state || st.status, ""];
    row.status.textContent = text;
    row.status.className = cls;
    let detail = st.reason ? reasonText(st.reason) : (st.error || "");
    if (st.quarantine) detail = reasonText(st.quarantine.code) + " — " + st.quarantine.error;
    if (st.results && st.results.length) detail = "Mã kết quả: " + st.results.join(", ");
    if (st.review && st.review.length) detail += (detail ? "; " : "") + "Lý do kiểm tra: " + st.review.flatMap(d => d.reasons || []).map(reasonText).join(", ");
    row.detail.textContent = detail;
  }
  async function poll(row, key, n) {
    if (n > 120) return;
    const r = await fetch("/v1/inputs/" + encodeURIComponent(key), { credentials: "same-origin" });
    if (r.status === 401) { signedOut(); return; }
    if (r.ok) {
      const st = await r.json();
      show(row, st);
      if (st.state !== "processing") return;
    }
    setTimeout(() => poll(row, key, n + 1), 2000);
  }
  document.getElementById("upload").addEventListener("submit", async (e) => {
    e.preventDefault();
    const fd = new FormData(e.target);
    document.getElementById("results").hidden = false;
    let r;
    try {
      r = await fetch("/v1/batches", { method: "POST", body: fd, credentials: "same-origin", headers: { "X-CSRF-Token": csrf } });
    } catch (err) {
      problem("Lỗi kết nối", "Không gửi được tệp tới máy chủ. Kiểm tra mạng rồi thử lại.");
      return;
    }
    if (r.status === 401) { signedOut(); return; }
    let body;
    try { body = await r.json(); } catch { body = {}; }
    if (!body.files) {
      const code = body.error && body.error.code;
      problem("Không tải lên được", refusals[code] || ("Lỗi " + r.status + "; hãy thử lại hoặc báo cán bộ quản trị."));
      return;
    }
    for (const f of body.files) {
      const tr = document.createElement("tr");
      cell(tr, f.name); cell(tr, f.dossier_code || "");
      const row = { status: cell(tr, ""), detail: cell(tr, "") };
      tbody.appendChild(tr);
      show(row, f);
      if (f.input_key) poll(row, f.input_key, 0);
    }
  });
})();
