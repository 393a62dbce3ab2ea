// The sign-in link (/join/#<token>): trade the token for a session cookie, then start learning.
// A link works once: a used or expired one says so (by the API's error code) and offers the
// email form, as does the page opened without a token.
"use strict";
(function () {
  const panel = document.getElementById("join");
  if (!panel) return;
  const api = document.body.dataset.api || "/api";
  const token = window.location.hash.slice(1);
  const failed = document.getElementById("join-failed");
  const form = document.getElementById("join-email");
  const status = document.getElementById("join-email-status");
  // Forget the token in the address bar and history: it is a personal key.
  history.replaceState(null, "", window.location.pathname);

  function post(path, body) {
    return fetch(api + path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    });
  }

  // The error code of a refusal (the API's one error shape), or "" when there is none.
  function code(response) {
    return response
      .json()
      .then(function (body) { return (body.error && body.error.code) || ""; })
      .catch(function () { return ""; });
  }

  function fail(reason) {
    document.getElementById("join-status").hidden = true;
    const messages = { link_used: panel.dataset.used, link_expired: panel.dataset.expired };
    if (messages[reason]) failed.textContent = messages[reason];
    failed.hidden = !token;
    form.hidden = false;
  }

  form.addEventListener("submit", function (submitted) {
    submitted.preventDefault();
    const address = document.getElementById("join-email-address").value.trim();
    post("/email-link", { email: address })
      .then(function (response) {
        if (response.ok) return panel.dataset.sent;
        return code(response).then(function (reason) {
          if (reason === "email_unavailable") return panel.dataset.emailOff;
          if (reason === "too_many_requests") return panel.dataset.wait;
          return panel.dataset.emailOff;
        });
      })
      .catch(function () { return panel.dataset.emailOff; })
      .then(function (message) { status.textContent = message; });
  });

  if (!token) return fail("");
  post("/session", { inviteToken: token })
    .then(function (response) {
      if (response.ok) return window.location.replace(panel.dataset.next);
      return code(response).then(fail);
    })
    .catch(function () { fail(""); });
})();
