(function () {
  "use strict";
  var root = document.getElementById("portal");
  var payloadEl = document.getElementById("portal-payload");
  var payload = payloadEl ? JSON.parse(payloadEl.textContent || "null") : null;
  var opener = root && root.getAttribute("data-opener");
  // window.opener is set in a popup the app opened; a tab has none (links
  // open tabs without it), and a tab cannot close itself.
  var inPopup = !!window.opener;
  // In a popup opened by the app: report the result to the app's origin only.
  if (opener && payload && inPopup) {
    try { window.opener.postMessage(payload, opener); } catch (e) { /* opener gone */ }
  }
  if (root && root.getAttribute("data-autoclose")) { window.close(); }
  var go = document.getElementById("continue");
  if (go) { window.location.replace(go.getAttribute("data-redirect")); }
  var result = document.getElementById("result");
  var close = document.getElementById("close");
  var back = document.getElementById("back");
  if (result && inPopup) {
    // A popup: "Close" instead of a link that would load the app in it;
    // after a success it closes itself.
    if (back) { back.parentNode.hidden = true; }
    if (close) {
      close.parentNode.hidden = false;
      close.addEventListener("click", function () { window.close(); });
    }
    if (result.classList.contains("success")) { setTimeout(function () { window.close(); }, 1200); }
  }
  var notice = document.getElementById("notice") || document.querySelector(".workflow .notice");
  if (notice) { notice.focus(); }
  var form = document.getElementById("connect-form");
  if (form) {
    form.addEventListener("submit", function () {
      var b = document.getElementById("submit");
      if (b) { b.disabled = true; b.textContent = "Checking…"; }
    });
  }
})();
