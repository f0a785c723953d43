// Flagyard UI enhancements. Everything works without this file; it adds:
// 1. live updates of lists marked data-live (see web/README.md),
// 2. copy buttons (data-copy="#selector"),
// 3. in-place swaps of 409/422 answers (errors shown where the form was).
(function () {
  "use strict";

  // Live updates: the server sends Server-Sent Events on /ui/events whose
  // data is {"topic": "flags", "version": N}. When N is newer than the
  // element's data-version, the element is re-fetched from its data-src and
  // swapped in place. Without EventSource, or when the stream fails, the
  // element is polled every 30 s instead.
  function refresh(el) {
    if (!window.htmx || !el.dataset.src || !el.id) return;
    window.htmx.ajax("GET", el.dataset.src, { target: "#" + el.id, swap: "outerHTML" });
  }

  function live() {
    var els = function () { return document.querySelectorAll("[data-live]"); };
    if (els().length === 0) return;
    var poll = null;
    function startPolling() {
      if (poll) return;
      poll = setInterval(function () { els().forEach(refresh); }, 30000);
    }
    if (!("EventSource" in window)) { startPolling(); return; }
    var source = new EventSource("/ui/events");
    source.onmessage = function (ev) {
      var msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      els().forEach(function (el) {
        var current = Number(el.dataset.version || 0);
        if (el.dataset.live === msg.topic && Number(msg.version) > current) refresh(el);
      });
    };
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED) startPolling();
    };
  }

  function copyButtons() {
    document.addEventListener("click", function (ev) {
      var btn = ev.target.closest && ev.target.closest("[data-copy]");
      if (!btn) return;
      var input = document.querySelector(btn.dataset.copy);
      if (!input) return;
      var done = function () {
        var label = btn.textContent;
        btn.textContent = "Copied";
        setTimeout(function () { btn.textContent = label; }, 1500);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () { input.select(); });
      } else {
        input.select();
        try { document.execCommand("copy"); done(); } catch (e) { /* selected: the user can copy */ }
      }
    });
  }

  // A rollout's total as its weights are typed (the server says the same
  // after "Update form" or a save): percent, two decimals at most.
  function pct(bp) {
    var whole = Math.floor(bp / 100), frac = bp % 100;
    if (frac === 0) return whole + "%";
    return whole + "." + (frac % 10 === 0 ? String(frac / 10) : (frac < 10 ? "0" : "") + frac) + "%";
  }
  function liveTotals() {
    document.addEventListener("input", function (ev) {
      var field = ev.target;
      if (!field.hasAttribute || !field.hasAttribute("data-weight")) return;
      var split = field.closest(".serve-split");
      var out = split && split.querySelector("[data-weights-total]");
      if (!out) return;
      var total = 0, parsed = true;
      split.querySelectorAll("[data-weight]").forEach(function (w) {
        var text = w.value.trim().replace(",", ".").replace(/%$/, "");
        var v = Number(text);
        if (text === "" || !isFinite(v) || v < 0) { parsed = false; return; }
        total += Math.round(v * 100);
      });
      var ok = parsed && total === 10000;
      out.textContent = !parsed ? "Weights: enter a percentage in every row."
        : ok ? "Weights add up to 100%."
        : total < 10000 ? "Weights add up to " + pct(total) + ": " + pct(10000 - total) + " left to assign."
        : "Weights add up to " + pct(total) + ": " + pct(total - 10000) + " too much.";
      out.className = ok ? "ok" : "warn";
    });
  }

  // A two-variant rollout's single control: "serve the second to N %" sets
  // both weights (and typing the second weight moves the control).
  function canaryControl() {
    document.addEventListener("input", function (ev) {
      var f = ev.target;
      var split = f && f.closest && f.closest(".serve-split");
      var canary = split && split.querySelector("[data-canary]");
      var weights = split ? split.querySelectorAll("[data-weight]") : [];
      if (!canary || weights.length !== 2) return;
      if (f === canary) {
        var text = canary.value.trim().replace(",", ".").replace(/%$/, "");
        var v = Number(text);
        if (text === "" || !isFinite(v) || v < 0 || v > 100) return;
        var bp = Math.round(v * 100);
        weights[1].value = pct(bp).replace(/%$/, "");
        weights[0].value = pct(10000 - bp).replace(/%$/, "");
        weights[1].dispatchEvent(new Event("input", { bubbles: true }));
      } else if (f === weights[1]) {
        canary.value = weights[1].value;
      }
    });
  }

  // Validation errors (422) and conflicts (409) answer with a fragment to
  // show in place (the editor with its errors, the row as it is now).
  document.addEventListener("htmx:beforeSwap", function (ev) {
    var status = ev.detail.xhr.status;
    if (status === 409 || status === 422) {
      ev.detail.shouldSwap = true;
      ev.detail.isError = false;
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    live();
    copyButtons();
    liveTotals();
    canaryControl();
  });
})();
