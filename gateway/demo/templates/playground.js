"use strict";
(function () {
  var root = document.getElementById("playground");
  var pid = root.dataset.project;
  var hints = JSON.parse(root.dataset.hints || "{}");
  var state = { user: "", token: "", integrations: [], me: null, popup: null };
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) { e.setAttribute(k, attrs[k]); }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  function say(id, text, bad) {
    var p = $(id);
    p.textContent = text;
    p.classList.toggle("bad", !!bad);
  }

  async function api(method, path, body) {
    var headers = { Authorization: "Bearer " + state.token };
    var init = { method: method, headers: headers };
    if (body !== undefined) { headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    var res = await fetch(path, init);
    var data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (!res.ok) { throw new Error((data && (data.message || data.error)) || ("HTTP " + res.status)); }
    return data;
  }

  async function signIn(user) {
    say("user-status", "Getting a user token for " + user + "…");
    var res = await fetch("/demo/app/token", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ user: user }) });
    var data = await res.json();
    if (!res.ok) { say("user-status", data.message || ("HTTP " + res.status), true); return; }
    state.user = user;
    state.token = data.token;
    say("user-status", "Signed in as " + user + ". The app's calls carry a user token for " + user + " (it expires at " + new Date(data.expiresAt).toLocaleTimeString() + ").");
    await refresh();
  }

  async function refresh() {
    if (!state.token) { return; }
    try {
      var list = await (await fetch("/v1/integrations")).json();
      state.integrations = (list.integrations || list || []);
      // The demo integrations work offline: list them first, then the
      // bundled catalog (which needs real provider accounts).
      var demoFirst = function (it) { return /^demo-/.test(it.id) ? 0 : 1; };
      state.integrations = state.integrations.map(function (it, i) { return [it, i]; })
        .sort(function (a, b) { return demoFirst(a[0]) - demoFirst(b[0]) || a[1] - b[1]; })
        .map(function (p) { return p[0]; });
      state.me = await api("GET", "/projects/" + encodeURIComponent(pid) + "/sdk/me");
    } catch (e) {
      say("notice", "Could not load the integrations: " + e.message, true);
      return;
    }
    render();
  }

  function statusOf(id) {
    var entry = state.me && state.me.integrations && state.me.integrations["custom." + id];
    if (!entry || !entry.enabled) { return { label: "Not connected", cls: "off" }; }
    if (entry.credentialStatus === "INVALID") { return { label: "Needs reconnect", cls: "warn", credentialId: entry.credentialId }; }
    return { label: "Connected", cls: "on", credentialId: entry.credentialId };
  }

  function render() {
    var ul = $("integrations");
    ul.textContent = "";
    var select = $("req-integration");
    var chosen = select.value;
    select.textContent = "";
    state.integrations.forEach(function (it) {
      var st = statusOf(it.id);
      var li = el("li", { "class": "integration", id: "int-" + it.id, "data-status": st.cls });
      li.style.setProperty("--accent", it.accentColor || "#57606a");
      if (it.icon) {
        li.appendChild(el("img", { src: it.icon, alt: "", width: "36", height: "36", "class": "icon" }));
      } else {
        li.appendChild(el("span", { "class": "icon initial", "aria-hidden": "true" }, (it.name || "?").charAt(0).toUpperCase()));
      }
      var info = el("div", { "class": "info" });
      var title = el("div", { "class": "title" });
      title.appendChild(el("strong", {}, it.name));
      title.appendChild(el("span", { "class": "badge " + st.cls, id: "status-" + it.id }, st.label));
      info.appendChild(title);
      info.appendChild(el("div", { "class": "meta" }, "custom." + it.id + " · " + it.authType));
      if (hints[it.id]) { info.appendChild(el("div", { "class": "hint" }, hints[it.id])); }
      li.appendChild(info);
      var actions = el("div", { "class": "actions" });
      var connect = el("button", { type: "button", "class": "button small", id: "connect-" + it.id,
        "aria-label": (st.credentialId ? "Reconnect " : "Connect ") + it.name }, st.credentialId ? "Reconnect" : "Connect");
      connect.addEventListener("click", function () { openPortal(it, st.credentialId); });
      actions.appendChild(connect);
      if (st.credentialId) {
        var off = el("button", { type: "button", "class": "button small secondary", id: "disconnect-" + it.id, "aria-label": "Disconnect " + it.name }, "Disconnect");
        off.addEventListener("click", function () { disconnect(it, st.credentialId); });
        actions.appendChild(off);
      }
      li.appendChild(actions);
      ul.appendChild(li);
      var opt = el("option", { value: it.id }, it.name + (st.credentialId ? "" : " (not connected)"));
      select.appendChild(opt);
    });
    if (chosen) { select.value = chosen; }
    showURL();
  }

  async function openPortal(it, credentialId) {
    var body = { integrationId: "custom." + it.id, origin: location.origin };
    if (credentialId) { body.credentialId = credentialId; }
    var link;
    try {
      link = await api("POST", "/projects/" + encodeURIComponent(pid) + "/sdk/connect-links", body);
    } catch (e) {
      say("notice", "Could not create a connect link: " + e.message, true);
      return;
    }
    var w = window.open(link.url, "plugboard-connect", "popup,width=520,height=760");
    if (!w) {
      var a = el("a", { href: link.url, target: "_blank", rel: "opener", id: "portal-link" }, "Open the Connect Portal for " + it.name);
      var n = $("notice");
      n.textContent = "Your browser blocked the popup. ";
      n.appendChild(a);
      return;
    }
    state.popup = w;
    say("notice", "Connecting " + it.name + " in the Connect Portal…");
    var timer = setInterval(function () {
      if (w.closed) { clearInterval(timer); if (state.popup === w) { state.popup = null; } refresh(); }
    }, 500);
  }

  window.addEventListener("message", function (e) {
    if (e.origin !== location.origin || !e.data || typeof e.data.type !== "string") { return; }
    if (e.data.type === "plugboard:connected") {
      var id = String(e.data.integrationId || "").replace(/^custom\./, "");
      var it = state.integrations.filter(function (i) { return i.id === id; })[0];
      say("notice", (it ? it.name : id) + " is connected.");
      refresh();
    } else if (e.data.type === "plugboard:error") {
      say("notice", "The Connect Portal reported an error" + (e.data.message ? ": " + e.data.message : "."), true);
      refresh();
    }
  });

  async function disconnect(it, credentialId) {
    try {
      await api("DELETE", "/projects/" + encodeURIComponent(pid) + "/sdk/credentials/" + encodeURIComponent(credentialId));
      say("notice", "Disconnected " + it.name + ".");
    } catch (e) {
      say("notice", "Could not disconnect " + it.name + ": " + e.message, true);
    }
    refresh();
  }

  function proxyURL() {
    var path = $("req-path").value.trim();
    if (path && path.charAt(0) !== "/") { path = "/" + path; }
    return "/projects/" + encodeURIComponent(pid) + "/sdk/proxy/custom/" + encodeURIComponent($("req-integration").value) + path;
  }

  function showURL() { $("req-url").textContent = $("req-method").value + " " + proxyURL(); }
  ["req-integration", "req-method", "req-path"].forEach(function (id) { $(id).addEventListener("input", showURL); });

  $("request-form").addEventListener("submit", async function (ev) {
    ev.preventDefault();
    if (!state.token) { say("user-status", "Pick a user first.", true); return; }
    var method = $("req-method").value;
    var init = { method: method, headers: { Authorization: "Bearer " + state.token } };
    var body = $("req-body").value.trim();
    if (body && method !== "GET" && method !== "HEAD") { init.body = body; init.headers["Content-Type"] = "application/json"; }
    var out = $("response");
    out.hidden = false;
    $("resp-status").textContent = "…";
    var res;
    try {
      res = await fetch(proxyURL(), init);
    } catch (e) {
      $("resp-status").textContent = "failed";
      $("resp-body").textContent = String(e);
      return;
    }
    var lines = [];
    res.headers.forEach(function (v, k) { lines.push(k + ": " + v); });
    $("resp-headers").textContent = lines.sort().join("\n");
    var text = await res.text();
    try { text = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON: shown as it is */ }
    var badge = $("resp-status");
    badge.textContent = res.status + " " + res.statusText + (res.headers.get("X-Plugboard-Error") ? " · gateway error " + res.headers.get("X-Plugboard-Error") : "");
    badge.className = "badge " + (res.ok ? "on" : "warn");
    $("resp-body").textContent = text;
    refresh();
  });

  $("user-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var picked = document.querySelector("input[name=user]:checked").value;
    var user = picked === "other" ? $("user-name").value.trim().toLowerCase() : picked;
    if (!user) { say("user-status", "Type a name.", true); $("user-name").focus(); return; }
    signIn(user);
  });
  $("user-name").addEventListener("input", function () { $("user-other").checked = true; });

  signIn(document.querySelector("input[name=user]:checked").value);
})();
