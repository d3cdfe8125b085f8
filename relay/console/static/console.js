// console.js: small progressive enhancements for the tagihan-relay console.
// Every page works without it. It never builds HTML from event data: the
// only markup it inserts is the overview fragment the server rendered (and
// escaped) with html/template.
(function () {
  "use strict";

  // Overview: refresh the element with data-refresh from its URL every
  // data-every seconds, without a full reload; pause while the tab is hidden.
  function live(el) {
    var url = el.getAttribute("data-refresh");
    var every = Math.max(2, parseInt(el.getAttribute("data-every"), 10) || 5) * 1000;
    function tick() {
      if (document.hidden) {
        setTimeout(tick, every);
        return;
      }
      fetch(url, { credentials: "same-origin", redirect: "manual", headers: { Accept: "text/html" } })
        .then(function (res) {
          if (res.type === "opaqueredirect" || res.status === 401) {
            // The session ended: reloading shows the login page.
            window.location.reload();
            return null;
          }
          if (!res.ok) {
            throw new Error("HTTP " + res.status);
          }
          return res.text();
        })
        .then(function (html) {
          if (html !== null) {
            el.innerHTML = html;
            el.removeAttribute("data-stale");
          }
        })
        .catch(function () {
          el.setAttribute("data-stale", "");
        })
        .then(function () {
          setTimeout(tick, every);
        });
    }
    setTimeout(tick, every);
  }

  // Row selection: a data-select-all box ticks every "sel" box of its form;
  // buttons with data-needs-selection are enabled only when some are ticked.
  function selection(form) {
    var all = form.querySelector("[data-select-all]");
    var boxes = form.querySelectorAll("input[name=sel]");
    var buttons = form.querySelectorAll("[data-needs-selection]");
    var counter = form.querySelector("[data-selection-count]");
    function update() {
      var n = 0;
      boxes.forEach(function (b) { if (b.checked) { n++; } });
      buttons.forEach(function (b) { b.disabled = n === 0; });
      if (counter) {
        counter.textContent = n === 0 ? "Tick the rows to redrive." : n + " selected";
      }
      if (all) {
        all.checked = n > 0 && n === boxes.length;
        all.indeterminate = n > 0 && n < boxes.length;
      }
    }
    if (all) {
      all.addEventListener("change", function () {
        boxes.forEach(function (b) { b.checked = all.checked; });
        update();
      });
    }
    boxes.forEach(function (b) { b.addEventListener("change", update); });
    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-refresh]").forEach(live);
    document.querySelectorAll("form").forEach(function (f) {
      if (f.querySelector("[data-needs-selection]")) {
        selection(f);
      }
    });
  });
})();
