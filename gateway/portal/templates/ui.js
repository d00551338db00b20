// The Connect Portal as the @useparagon/connect SDK's iframe. The app's SDK
// sends UI_UPDATE messages (state: user, project, the integration to show);
// the portal asks the SDK to act with SDK_FUNCTION_INVOCATION messages
// (show or hide the frame, save an API key, start the OAuth popup, close).
// Only messages from the embedding window, on an allowed app origin, count.
// Everything is built with DOM calls and textContent: no HTML from data.
// It is a modal dialog: focus moves into it when it shows, Tab stays in it,
// Esc closes it (closePortal, which makes the SDK call the app's onClose,
// where the app puts focus back where it was).
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("pb-config").textContent);
  var overlay = document.getElementById("overlay");
  var parentOrigin = null;
  var ctx = null, modal = null;
  var shown = false, renderedKey = "", seq = 0, pending = {}, busy = false;

  function invoke(type, params) {
    return new Promise(function (resolve, reject) {
      if (!parentOrigin) { reject(new Error("no app window")); return; }
      var id = "pb-" + (++seq);
      pending[id] = { resolve: resolve, reject: reject };
      window.parent.postMessage({ messageType: "SDK_FUNCTION_INVOCATION", type: type, id: id, parameters: params || [] }, parentOrigin);
    });
  }

  window.addEventListener("message", function (e) {
    if (e.source !== window.parent || config.origins.indexOf(e.origin) < 0 || !e.data) { return; }
    parentOrigin = e.origin;
    var d = e.data;
    if (d.messageType === "UI_UPDATE") {
      ctx = d.nextContext || null;
      modal = d.nextModalState || null;
      render();
    } else if (d.messageType === "SDK_FUNCTION_RESPONSE" || d.messageType === "SDK_FUNCTION_ERROR") {
      var p = pending[d.id];
      if (!p) { return; }
      delete pending[d.id];
      if (d.messageType === "SDK_FUNCTION_RESPONSE") { p.resolve(d.result); } else { p.reject(new Error(d.message || "failed")); }
    }
  });

  document.addEventListener("keydown", function (e) {
    if (!shown) { return; }
    if (e.key === "Escape") { e.preventDefault(); close(); return; }
    if (e.key === "Tab") { trapTab(e); }
  });

  // focusables lists what Tab reaches in the dialog, in order.
  function focusables() {
    var all = overlay.querySelectorAll('a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex="-1"])');
    return Array.prototype.filter.call(all, function (n) { return n.getClientRects().length > 0; });
  }

  // trapTab keeps focus in the dialog: Tab from the last element goes to
  // the first, Shift+Tab from the first to the last (otherwise the browser
  // would move on into the app's page behind the overlay).
  function trapTab(e) {
    var list = focusables();
    if (!list.length) { e.preventDefault(); return; }
    var first = list[0], last = list[list.length - 1], at = document.activeElement;
    if (list.indexOf(at) < 0) { e.preventDefault(); (e.shiftKey ? last : first).focus(); return; }
    if (e.shiftKey && at === first) { e.preventDefault(); last.focus(); }
    else if (!e.shiftKey && at === last) { e.preventDefault(); first.focus(); }
  }

  // focusFirst puts focus on the dialog's first field or main button
  // (the close button only when there is nothing else).
  function focusFirst() {
    var target = overlay.querySelector("input, select, button.primary") ||
      focusables().filter(function (n) { return !n.classList.contains("close-x"); })[0] || overlay.querySelector(".close-x");
    if (target) { target.focus(); }
  }

  function el(tag, attrs, text) {
    var n = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { n.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) { n.textContent = String(text); }
    return n;
  }

  function integrationState(slug) {
    var u = ctx && ctx.user;
    return (u && u.integrations && u.integrations[slug]) || {};
  }

  // errorText turns the SDK's connectionError into what to tell the user:
  // our JSON error (message, provider status and body) or the OAuth popup's.
  function errorText(err) {
    if (!err) { return null; }
    var out = { message: "Something went wrong. Try again.", provider: null };
    var raw = err.errorResponse ? err.errorResponse : err;
    var msg = raw && raw.message;
    if (typeof msg === "string") {
      try {
        var body = JSON.parse(msg);
        out.message = body.message || msg;
        out.provider = body.provider || null;
      } catch (x) { out.message = msg; }
    }
    return out;
  }

  function render() {
    var integ = modal && modal.integration;
    var apiInstall = modal && modal.apiInstallationOptions && modal.apiInstallationOptions.isApiInstallation;
    if (!integ || apiInstall) { hide(); return; }
    var slug = (integ.customIntegration && integ.customIntegration.slug) || integ.type;
    var st = integrationState(slug);
    var err = errorText(modal.connectionError);
    var key = slug + "|" + (st.enabled ? "on" : "off");
    if (key !== renderedKey) {
      renderedKey = key;
      busy = false;
      build(integ, slug, st);
      if (shown) { focusFirst(); }
    }
    showError(err);
    if (!shown) {
      shown = true;
      overlay.hidden = false;
      // Focus once the app shows the frame: nothing in a hidden frame can
      // take it.
      invoke("updateContainerStyle", [{ isModalShown: true }]).then(function () {
        window.focus();
        focusFirst();
        return invoke("onOpen", []);
      }).catch(function () {});
    }
  }

  function hide() {
    renderedKey = "";
    overlay.hidden = true;
    overlay.textContent = "";
    if (shown) {
      shown = false;
      if (document.activeElement && document.activeElement.blur) { document.activeElement.blur(); }
      invoke("updateContainerStyle", [{ isModalShown: false }]).catch(function () {});
      // Hand keyboard focus back to the app's window (a hidden frame must
      // not keep it); the app's onClose can then focus what opened us.
      try { window.parent.focus(); } catch (x) { /* not allowed: the app keeps what it has */ }
    }
  }

  function close() {
    invoke("closePortal", []).catch(function () {}).then(hide);
  }

  function build(integ, slug, st) {
    overlay.textContent = "";
    var accent = /^#[0-9a-fA-F]{6}$/.test(integ.brandColor || "") ? integ.brandColor : "#4F46E5";
    document.documentElement.style.setProperty("--accent", accent);
    var card = el("main", { "class": "card", role: "dialog", "aria-modal": "true", "aria-labelledby": "pb-title" });
    var x = el("button", { type: "button", "class": "close-x", "aria-label": "Close" }, "×");
    x.addEventListener("click", close);
    card.appendChild(x);
    var head = el("header", { "class": "brand" });
    var icon = integ.customIntegration && integ.customIntegration.icon;
    if (icon) {
      head.appendChild(el("img", { "class": "icon", src: icon, alt: "", width: "48", height: "48" }));
    } else {
      head.appendChild(el("span", { "class": "icon initial", "aria-hidden": "true" }, (integ.name || "?").charAt(0).toUpperCase()));
    }
    var titles = el("div");
    titles.appendChild(el("h1", { id: "pb-title" }, (st.enabled ? "" : "Connect ") + integ.name));
    var desc = modal.config && modal.config.description;
    if (desc) { titles.appendChild(el("p", { "class": "description" }, desc)); }
    head.appendChild(titles);
    card.appendChild(head);
    var who = whoIsAsking(integ, st.enabled);
    if (who) { card.appendChild(who); }
    var notice = el("div", { "class": "notice", role: "alert", id: "pb-error", hidden: "" });
    card.appendChild(notice);

    if (!st.enabled && integ.available === false) {
      // The gateway cannot connect it yet (an OAuth client id or secret
      // is not set): say so instead of a button that would fail.
      var un = el("div", { "class": "notice", role: "alert", id: "pb-unavailable" });
      un.appendChild(el("p", null, integ.name + " cannot be connected on this gateway yet. Try again later."));
      if (integ.unavailableReason) { un.appendChild(details("Details for the gateway's operator", integ.unavailableReason)); }
      card.appendChild(un);
      var ok = el("button", { type: "button", "class": "button primary", id: "pb-done" }, "Close");
      ok.addEventListener("click", close);
      card.appendChild(ok);
    } else if (st.enabled) {
      card.appendChild(el("span", { "class": "connected-badge", id: "pb-connected" }, "Connected"));
      var wfs = workflowsOf(integ);
      if (wfs.length) { card.appendChild(buildWorkflows(slug, wfs)); }
      var row = el("div", { "class": "row" });
      var disconnect = el("button", { type: "button", "class": "button danger", id: "pb-disconnect" }, "Disconnect");
      disconnect.addEventListener("click", function () {
        disconnect.disabled = true;
        invoke("uninstallIntegration", [slug]).then(hide, function (e) { disconnect.disabled = false; showError({ message: e.message }); });
      });
      var done = el("button", { type: "button", "class": "button primary", id: "pb-done" }, "Done");
      done.addEventListener("click", close);
      row.appendChild(disconnect);
      row.appendChild(done);
      card.appendChild(row);
    } else if (integ.authenticationType === "oauth") {
      var go = el("button", { type: "button", "class": "button primary", id: "pb-connect" }, "Connect " + integ.name);
      var status = el("p", { "class": "status", role: "status", id: "pb-status" });
      go.addEventListener("click", function () {
        // Within the click: the SDK opens the popup from the app's window.
        status.textContent = "Finish signing in to " + integ.name + " in the window that opened.";
        invoke("startOAuthFlow", [slug, {}]).catch(function (e) {
          status.textContent = "";
          showError({ message: e.message === "Popup was blocked by the browser." ? "Your browser blocked the sign-in window. Allow pop-ups for this site and try again." : e.message });
        });
      });
      card.appendChild(go);
      card.appendChild(status);
      card.appendChild(el("p", { "class": "fineprint" }, "You will sign in on " + integ.name + "'s own page. The app never sees your password."));
    } else {
      card.appendChild(buildForm(integ));
      card.appendChild(el("p", { "class": "fineprint" }, "Your credentials are sent to " + integ.name + " to check them and stored encrypted. The app never sees them."));
    }
    overlay.appendChild(card);
  }

  // whoIsAsking names the app and the account being connected, as the
  // portal pages do ("Connecting Acme to Shop as ada@example.com."): the
  // gateway adds them to /sdk/me's project, which the SDK passes on.
  function whoIsAsking(integ, connected) {
    var pb = ctx && ctx.project && ctx.project.plugboard;
    if (!pb || !pb.account) { return null; }
    var box = el("div", { "class": "context", id: "pb-context" });
    var p = el("p", null, (connected ? "Connected " : "Connecting "));
    p.appendChild(el("strong", null, integ.name));
    p.appendChild(document.createTextNode(" to "));
    if (typeof pb.appLogo === "string" && pb.appLogo.indexOf("data:image/") === 0) {
      p.appendChild(el("img", { "class": "applogo", src: pb.appLogo, alt: "", width: "20", height: "20" }));
    }
    p.appendChild(el("strong", { id: "pb-app-name" }, pb.appName || "the app"));
    p.appendChild(document.createTextNode(" as "));
    p.appendChild(el("strong", { id: "pb-account" }, pb.account));
    p.appendChild(document.createTextNode("."));
    box.appendChild(p);
    return box;
  }

  // details is a disclosure: the raw answer stays out of the way until asked for.
  function details(summary, text) {
    var d = el("details", { "class": "provider" });
    d.appendChild(el("summary", null, summary));
    d.appendChild(el("p", null, text));
    return d;
  }

  function buildForm(integ) {
    var form = el("form", { id: "pb-form", novalidate: "" });
    var fields = (integ.customIntegration && integ.customIntegration.inputFields) || [];
    fields.forEach(function (f) {
      var wrap = el("div", { "class": "field" });
      var label = el("label", { "for": "pb-f-" + f.id }, f.title);
      if (!f.required) { label.appendChild(el("span", { "class": "optional" }, " (optional)")); }
      wrap.appendChild(label);
      var input;
      if (f.options && f.options.length) {
        input = el("select", { id: "pb-f-" + f.id, name: f.id });
        f.options.forEach(function (o) { input.appendChild(el("option", { value: o }, o)); });
      } else {
        input = el("input", { id: "pb-f-" + f.id, name: f.id, type: f.type === "password" ? "password" : "text", autocomplete: "off", spellcheck: "false" });
        if (f.placeholder) { input.setAttribute("placeholder", f.placeholder); }
        if (f.defaultValue) { input.value = f.defaultValue; }
      }
      if (f.required) { input.setAttribute("required", ""); }
      if (f.tooltip) {
        input.setAttribute("aria-describedby", "pb-h-" + f.id);
        wrap.appendChild(input);
        wrap.appendChild(el("p", { "class": "help", id: "pb-h-" + f.id }, f.tooltip));
      } else {
        wrap.appendChild(input);
      }
      form.appendChild(wrap);
    });
    var submit = el("button", { type: "submit", "class": "button primary", id: "pb-submit" }, "Connect");
    form.appendChild(submit);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (busy) { return; }
      var payload = {};
      fields.forEach(function (f) {
        var v = form.elements[f.id].value;
        if (v !== "") { payload[f.id] = v; }
      });
      busy = true;
      submit.disabled = true;
      submit.textContent = "Checking…";
      invoke("_oauthCallback", [{ integrationId: integ.id, payload: payload }]).then(function (result) {
        busy = false;
        submit.disabled = false;
        submit.textContent = "Connect";
        if (!result) { render(); }
      }, function (err) {
        busy = false;
        submit.disabled = false;
        submit.textContent = "Connect";
        showError({ message: err.message });
      });
    });
    return form;
  }

  // workflowsOf lists the integration's workflows as /sdk/integrations
  // describes them (workflows, and workflowMeta with each one's inputs).
  function workflowsOf(integ) {
    var values = integ.configs && integ.configs[0] && integ.configs[0].values;
    var meta = (values && values.workflowMeta) || {};
    return (integ.workflows || []).filter(function (w) { return meta[w.id]; }).map(function (w) {
      var m = meta[w.id];
      return { id: w.id, title: m.title || w.description || w.id, description: m.infoText || "", inputs: m.inputs || [] };
    });
  }

  // buildWorkflows is one form per workflow: an Enabled switch and its
  // settings. Saving goes through the SDK (updateWorkflowUserSettings,
  // then enableWorkflow or disableWorkflow), which calls the gateway's
  // API with the user's token: what the app's own calls would do.
  function buildWorkflows(slug, wfs) {
    var box = el("section", { "class": "workflows", "aria-labelledby": "pb-wf-heading" });
    box.appendChild(el("h2", { id: "pb-wf-heading" }, "Workflows"));
    var saved = integrationState(slug).workflowSettings || {};
    wfs.forEach(function (w) {
      var cur = saved[w.id] || { enabled: false, settings: {} };
      var id = "pb-wf-" + w.id;
      var form = el("form", { "class": "workflow", id: id, novalidate: "" });
      var head = el("div", { "class": "workflow-head" });
      var titles = el("div");
      titles.appendChild(el("h3", { id: id + "-title" }, w.title));
      if (w.description) { titles.appendChild(el("p", { "class": "description" }, w.description)); }
      head.appendChild(titles);
      var sw = el("label", { "class": "switch", "for": id + "-enabled" });
      var on = el("input", { type: "checkbox", role: "switch", id: id + "-enabled", "aria-labelledby": id + "-state " + id + "-title" });
      on.checked = !!cur.enabled;
      sw.appendChild(on);
      sw.appendChild(el("span", { id: id + "-state" }, "Enabled"));
      head.appendChild(sw);
      form.appendChild(head);
      var problem = el("div", { "class": "notice", role: "alert", id: id + "-error", tabindex: "-1", hidden: "" });
      form.appendChild(problem);
      var inputs = {};
      w.inputs.forEach(function (f) {
        var fid = id + "-s-" + f.key;
        var value = (cur.settings || {})[f.key];
        var wrap = el("div", { "class": "field" + (f.type === "switch" ? " check" : "") });
        var input;
        if (f.type === "switch") {
          var lab = el("label", { "for": fid });
          input = el("input", { type: "checkbox", id: fid });
          input.checked = value === true;
          lab.appendChild(input);
          lab.appendChild(document.createTextNode(" " + f.title));
          wrap.appendChild(lab);
        } else {
          var label = el("label", { "for": fid }, f.title);
          if (!f.required) { label.appendChild(el("span", { "class": "optional" }, " (optional)")); }
          wrap.appendChild(label);
          if (f.options && f.options.length) {
            input = el("select", { id: fid });
            if (!f.required) { input.appendChild(el("option", { value: "" }, "—")); }
            f.options.forEach(function (o) { input.appendChild(el("option", { value: o }, o)); });
          } else {
            input = el("input", { id: fid, type: f.type === "number" ? "number" : "text", autocomplete: "off", spellcheck: "false" });
            if (f.type === "number") { input.setAttribute("step", "any"); }
          }
          if (value !== undefined && value !== null) { input.value = String(value); }
          if (f.required) { input.setAttribute("required", ""); }
          wrap.appendChild(input);
        }
        if (f.tooltip) {
          input.setAttribute("aria-describedby", fid + "-help");
          wrap.appendChild(el("p", { "class": "help", id: fid + "-help" }, f.tooltip));
        }
        inputs[f.key] = { input: input, type: f.type };
        form.appendChild(wrap);
      });
      var status = el("p", { "class": "saved", role: "status", id: id + "-status" });
      form.appendChild(status);
      var save = el("button", { type: "submit", "class": "button", id: id + "-save" }, "Save");
      form.appendChild(save);
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        if (save.disabled) { return; }
        var settings = {};
        Object.keys(inputs).forEach(function (k) {
          var f = inputs[k];
          if (f.type === "switch") { settings[k] = f.input.checked; return; }
          var v = f.input.value.trim();
          // An empty field is sent empty (no value), not left out: the
          // SDK would keep the old value of a key it is not given.
          settings[k] = f.type === "number" && v !== "" && !isNaN(Number(v)) ? Number(v) : v;
        });
        var want = on.checked;
        var was = !!((integrationState(slug).workflowSettings || {})[w.id] || {}).enabled;
        save.disabled = true;
        status.textContent = "";
        problem.hidden = true;
        invoke("updateWorkflowUserSettings", [slug, w.id, settings]).then(function () {
          if (want === was) { return null; }
          return invoke(want ? "enableWorkflow" : "disableWorkflow", [w.id]);
        }).then(function () {
          save.disabled = false;
          status.textContent = "Saved: " + (want ? "enabled" : "disabled") + ".";
        }, function (err) {
          save.disabled = false;
          var t = errorText({ message: err.message });
          problem.textContent = "";
          problem.appendChild(el("p", null, t.message));
          problem.hidden = false;
          problem.focus();
        });
      });
      box.appendChild(form);
    });
    return box;
  }

  function showError(err) {
    var box = document.getElementById("pb-error");
    if (!box) { return; }
    box.textContent = "";
    if (!err) { box.hidden = true; return; }
    box.appendChild(el("p", null, err.message));
    if (err.provider) {
      var d = el("details", { "class": "provider", id: "pb-provider-details" });
      d.appendChild(el("summary", null, "Details"));
      var p = el("p", null, "The provider answered" + (err.provider.status ? " " : ""));
      if (err.provider.status) { p.appendChild(el("strong", null, err.provider.status)); }
      if (err.provider.body) { p.appendChild(document.createTextNode(": ")); p.appendChild(el("code", null, err.provider.body)); }
      d.appendChild(p);
      box.appendChild(d);
    }
    box.hidden = false;
  }
})();
