// The cohort page's certificates: every certificate issued (GET /api/admin/certificates) and
// a Revoke button each (POST .../revoke, for good: the status list says so at once). Uses the
// admin token admin.js keeps in sessionStorage. Everything shown is set as text.
"use strict";
(function () {
  const box = document.getElementById("admin-certificates");
  if (!box) return;
  const api = document.body.dataset.api || "/api";
  const lang = document.body.dataset.lang || "fr";
  const day = new Intl.DateTimeFormat(lang, { dateStyle: "medium" });
  const s = box.dataset;

  function request(method, path, body) {
    const headers = window.sillonAdminHeaders(body ? { "Content-Type": "application/json" } : {});
    return fetch(api + path, {
      method: method, credentials: "omit", headers: headers, body: body && JSON.stringify(body),
    }).then(function (response) {
      return response.json().then(function (answer) {
        if (!response.ok) throw new Error((answer.error && answer.error.message) || response.status);
        return answer;
      });
    });
  }

  function cell(text) {
    const td = document.createElement("td");
    td.textContent = text;
    return td;
  }

  function row(certificate) {
    const tr = document.createElement("tr");
    tr.dataset.id = certificate.id;
    const state = certificate.revokedAt
      ? s.revoked.replace("{day}", day.format(new Date(certificate.revokedAt)))
      : s.valid;
    tr.append(
      cell(certificate.name || certificate.userId),
      cell(certificate.teamId || "–"),
      cell(day.format(new Date(certificate.issuedAt))),
      cell(state),
    );
    const action = document.createElement("td");
    if (!certificate.revokedAt) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "button";
      button.textContent = s.revoke;
      button.addEventListener("click", function () { revoke(certificate); });
      action.appendChild(button);
    }
    tr.appendChild(action);
    return tr;
  }

  function load() {
    return request("GET", "/admin/certificates").then(function (answer) {
      box.querySelector("tbody").replaceChildren(...answer.certificates.map(row));
      document.getElementById("admin-certificates-none").hidden = answer.certificates.length > 0;
    });
  }

  function revoke(certificate) {
    const reason = window.prompt(s.reason + " " + (certificate.name || certificate.userId));
    if (reason === null) return;
    request("POST", "/admin/certificates/" + encodeURIComponent(certificate.id) + "/revoke", {
      reason: reason.slice(0, 500),
    }).then(load, function (problem) { window.alert(problem.message); });
  }

  box.addEventListener("toggle", function () { if (box.open) load().catch(function () {}); });
})();
