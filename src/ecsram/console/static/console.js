// ecsram console: the only script. It polls the console itself (never another origin) to keep
// the trail live, and submits the account picker on change. Every page works without it.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  var rows = document.getElementById("trail-rows");
  var live = document.getElementById("trail-live");
  var status = document.getElementById("trail-status");
  if (!rows || !live) { return; }
  var busy = false;
  function refresh() {
    if (!live.checked || busy || document.hidden) { return; }
    busy = true;
    fetch(rows.dataset.refresh, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (html) {
        rows.innerHTML = html;  // rendered (and escaped) by the server's templates
        status.textContent = "Newest first, up to 100 calls. Updated " + new Date().toLocaleTimeString() + ".";
      })
      .catch(function (error) { status.textContent = "Live update paused: " + error.message; })
      .finally(function () { busy = false; });
  }
  setInterval(refresh, 2000);
});
