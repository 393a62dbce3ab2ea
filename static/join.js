// The sign-in link (/join/#<token>): trade the token for a session cookie, then start learning.
// A link works once: a used or expired one says so (by the API's error code) and offers the
// email form, as does the page opened without a token. A link pasted into this tab's address bar
// only changes the hash: it is taken too. Refused for too many attempts (429), the page counts
// down the seconds the API asks for and tries again: the link is not said to be invalid.
"use strict";
(function () {
  const panel = document.getElementById("join");
  if (!panel) return;
  const api = document.body.dataset.api || "/api";
  let token = "";
  let timer = 0;
  const failed = document.getElementById("join-failed");
  const invalid = failed.textContent;
  const working = document.getElementById("join-status");
  const form = document.getElementById("join-email");
  const status = document.getElementById("join-email-status");

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
    working.hidden = true;
    const messages = { link_used: panel.dataset.used, link_expired: panel.dataset.expired };
    failed.textContent = messages[reason] || invalid;
    failed.hidden = !token;
    form.hidden = false;
  }

  // Seconds to wait, from the refusal's `retryAfter` or its Retry-After header (5 when neither).
  function retryAfter(response) {
    const header = Number(response.headers.get("Retry-After"));
    return response
      .json()
      .then(function (body) { return (body.error && body.error.retryAfter) || header || 5; })
      .catch(function () { return header || 5; });
  }

  function countDown(seconds) {
    working.hidden = false;
    if (seconds <= 0) {
      working.textContent = panel.dataset.working;
      return signIn();
    }
    working.textContent = panel.dataset.retrying.replace("{n}", String(seconds));
    timer = setTimeout(function () { countDown(seconds - 1); }, 1000);
  }

  function signIn() {
    post("/session", { inviteToken: token })
      .then(function (response) {
        if (response.ok) return window.location.replace(panel.dataset.next);
        if (response.status === 429) return retryAfter(response).then(countDown);
        return code(response).then(fail);
      })
      .catch(function () { fail(""); });
  }

  // The token from the address bar, then forgotten there and in history: it is a personal key.
  function start() {
    const fresh = window.location.hash.slice(1);
    if (!fresh) return;
    token = fresh;
    history.replaceState(null, "", window.location.pathname);
    clearTimeout(timer);
    failed.hidden = true;
    form.hidden = true;
    working.textContent = panel.dataset.working;
    working.hidden = false;
    signIn();
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

  window.addEventListener("hashchange", start);
  if (!window.location.hash.slice(1)) return fail("");
  start();
})();
