// Review item page: keyboard work through the fields, the field's box
// highlighted on the scan, the claim renewed while the page is open, and
// after a decision the document's state polled until it is issued.
(function () {
  "use strict";
  var root = document.getElementById("review-item");
  if (!root) return;
  var base = root.dataset.base;
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var form = document.getElementById("review-form");
  var fields = Array.prototype.slice.call(document.querySelectorAll("#review-form .field"));
  var current = -1;

  function inputOf(i) { return fields[i] && fields[i].querySelector("input"); }

  function select(i, focus) {
    if (i < 0 || i >= fields.length) return;
    current = i;
    var slug = fields[i].dataset.field;
    fields.forEach(function (f, k) { f.classList.toggle("active", k === i); });
    document.querySelectorAll("svg rect.box").forEach(function (r) {
      r.classList.toggle("active", r.dataset.field === slug);
    });
    var box = document.querySelector('svg rect.box[data-field="' + slug + '"]');
    if (box && box.scrollIntoView) box.scrollIntoView({ block: "nearest", inline: "nearest" });
    if (focus && inputOf(i)) inputOf(i).focus();
  }

  fields.forEach(function (f, i) {
    var input = f.querySelector("input");
    if (!input) return;
    input.addEventListener("focus", function () { select(i, false); });
    input.addEventListener("input", function () {
      f.classList.remove("accepted");
      f.classList.add("entered");
    });
    input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.ctrlKey && !e.metaKey) {
        // Enter accepts the value and moves on; it never submits.
        e.preventDefault();
        if (!f.classList.contains("entered")) f.classList.add("accepted");
        select(Math.min(i + 1, fields.length - 1), true);
      } else if (e.key === "Escape") {
        input.blur();
      }
    });
  });

  // A click on a box selects its field.
  document.querySelectorAll("svg rect.box").forEach(function (r) {
    r.addEventListener("click", function () {
      for (var i = 0; i < fields.length; i++) {
        if (fields[i].dataset.field === r.dataset.field) { select(i, true); return; }
      }
    });
  });

  // Picking one of an ID's readings puts it in the field.
  document.querySelectorAll(".id-reading").forEach(function (b) {
    b.addEventListener("click", function () {
      var f = b.closest(".field");
      var input = f.querySelector("input");
      input.value = b.dataset.value;
      f.querySelectorAll(".id-reading").forEach(function (o) { o.classList.toggle("chosen", o === b); });
      f.classList.add("entered");
      input.focus();
    });
  });

  function approve() {
    var b = document.getElementById("approve");
    if (b && !b.disabled && form.requestSubmit) form.requestSubmit(b);
  }
  function reject() {
    var reason = document.getElementById("reason");
    if (!reason.value.trim()) { reason.focus(); return; }
    form.requestSubmit(document.getElementById("reject"));
  }

  document.addEventListener("keydown", function (e) {
    if (!form || !document.getElementById("approve")) return;
    var t = e.target;
    var typing = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT");
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      if (t && t.id === "reason") reject(); else approve();
      return;
    }
    if (typing || e.altKey || e.ctrlKey || e.metaKey) return;
    switch (e.key) {
      case "j": case "J": case "ArrowDown":
        e.preventDefault(); select(Math.min(current + 1, fields.length - 1), true); break;
      case "k": case "K": case "ArrowUp":
        e.preventDefault(); select(Math.max(current - 1, 0), true); break;
      case "e": case "E": case "F2":
        e.preventDefault();
        select(Math.max(current, 0), true);
        if (inputOf(current)) inputOf(current).select();
        break;
      case "1": case "2": case "3":
        var f = fields[current] || document.querySelector(".field .id-reading") && document.querySelector(".id-reading").closest(".field");
        var opts = f ? f.querySelectorAll(".id-reading") : [];
        var b = opts[Number(e.key) - 1];
        if (b) { e.preventDefault(); b.click(); }
        break;
      case "a": case "A":
        e.preventDefault(); approve(); break;
      case "r": case "R":
        e.preventDefault(); document.getElementById("reason").focus(); break;
    }
  });

  function post(path) {
    return fetch(base + path, { method: "POST", headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" });
  }

  // Keep the claim while the page is open.
  if (root.dataset.claim === "mine") {
    var every = Number(root.dataset.renewMs) || 240000;
    setInterval(function () {
      post("/claim").then(function (r) { return r.json(); }).then(function (j) {
        if (j && j.held === false) {
          document.querySelectorAll("#approve, #reject").forEach(function (b) { b.disabled = true; });
          var n = document.createElement("p");
          n.className = "notice warn";
          n.setAttribute("role", "alert");
          n.textContent = "Tài liệu này đã được cán bộ khác nhận kiểm tra (bạn để trang mở quá lâu). Hãy mở lại hàng đợi.";
          root.insertBefore(n, root.firstChild);
        }
      }).catch(function () {});
    }, every);
  }

  // After approval: wait for the result to be issued.
  var decision = document.getElementById("decision");
  if (decision && decision.dataset.state === "approved") {
    var poll = function () {
      fetch(base + "/status", { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (j) {
        if (!j || j.state === "approved" || j.state === "pending") { setTimeout(poll, 1500); return; }
        decision.dataset.state = j.state;
        decision.className = "decision " + j.state;
        decision.dataset.resultCode = j.result_code || "";
        decision.textContent = j.text || "";
      }).catch(function () { setTimeout(poll, 3000); });
    };
    setTimeout(poll, 800);
  }

  if (fields.length && root.dataset.claim === "mine") {
    // Start at the first field that needs a look.
    var first = fields.findIndex(function (f) { return f.dataset.state !== "ok"; });
    select(first < 0 ? 0 : first, true);
  }
})();
