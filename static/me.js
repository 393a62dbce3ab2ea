// The profile's devices: the sessions signed in (device, last seen), "sign out everywhere
// else", and "add a device": a one-time sign-in link (10 minutes) with its QR code. Everything
// shown is set as text (the QR code is an image of the SVG the API made), never as HTML.
"use strict";
(function () {
  const box = document.getElementById("me-devices");
  if (!box) return;
  const api = document.body.dataset.api || "/api";
  const lang = document.body.dataset.lang || "fr";
  const when = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });
  const status = document.getElementById("me-devices-status");

  function call(method, path) {
    return fetch(api + path, {
      method: method,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    }).then(function (response) {
      if (!response.ok) throw new Error(String(response.status));
      return response.json();
    });
  }

  function item(session) {
    const li = document.createElement("li");
    const name = document.createElement("strong");
    name.textContent = session.device;
    li.appendChild(name);
    if (session.current) li.append(" (" + box.dataset.thisDevice + ")");
    const seen = document.createElement("span");
    seen.className = "muted";
    seen.textContent = " · " + box.dataset.lastSeen + " " + when.format(new Date(session.lastSeen));
    li.appendChild(seen);
    li.dataset.current = String(session.current);
    return li;
  }

  function list() {
    return call("GET", "/sessions").then(function (answer) {
      const sessions = document.getElementById("me-sessions");
      sessions.replaceChildren(...answer.sessions.map(item));
      document.getElementById("me-sign-out-others").disabled = answer.sessions.length < 2;
      box.hidden = false;
    });
  }

  document.getElementById("me-sign-out-others").addEventListener("click", function () {
    call("DELETE", "/sessions")
      .then(function (answer) {
        status.textContent = box.dataset.signedOut.replace("{n}", String(answer.ended));
        return list();
      })
      .catch(function () { status.textContent = ""; });
  });

  document.getElementById("me-add-device").addEventListener("click", function () {
    call("POST", "/device-link").then(function (link) {
      document.getElementById("me-device-qr").src =
        "data:image/svg+xml;charset=utf-8," + encodeURIComponent(link.qrSvg);
      document.getElementById("me-device-url").value = link.url;
      const until = document.getElementById("me-device-until");
      until.dateTime = link.expiresAt;
      until.textContent = when.format(new Date(link.expiresAt));
      document.getElementById("me-device-link").hidden = false;
    });
  });

  list().catch(function () { box.hidden = true; });
})();
