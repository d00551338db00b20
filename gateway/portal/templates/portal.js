(function () {
  "use strict";
  var root = document.getElementById("portal");
  var payloadEl = document.getElementById("portal-payload");
  var payload = payloadEl ? JSON.parse(payloadEl.textContent || "null") : null;
  var opener = root && root.getAttribute("data-opener");
  // In a popup opened by the app: report the result to the app's origin only.
  if (opener && payload && window.opener) {
    try { window.opener.postMessage(payload, opener); } catch (e) { /* opener gone */ }
  }
  if (root && root.getAttribute("data-autoclose")) { window.close(); }
  var go = document.getElementById("continue");
  if (go) { window.location.replace(go.getAttribute("data-redirect")); }
  var close = document.getElementById("close");
  if (close) {
    close.addEventListener("click", function () { window.close(); });
    if (opener && payload && payload.type === "plugboard:connected") { setTimeout(function () { window.close(); }, 1200); }
  }
  var notice = document.getElementById("notice");
  if (notice) { notice.focus(); }
  var form = document.getElementById("connect-form");
  if (form) {
    form.addEventListener("submit", function () {
      var b = document.getElementById("submit");
      if (b) { b.disabled = true; b.textContent = "Checking…"; }
    });
  }
})();
