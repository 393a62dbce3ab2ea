// The invite link (/join/#<token>): trade the token for a session cookie, then start learning.
"use strict";
(function () {
  const panel = document.getElementById("join");
  if (!panel) return;
  const token = window.location.hash.slice(1);
  // Forget the token in the address bar and history: it is a personal key.
  history.replaceState(null, "", window.location.pathname);
  function fail() {
    document.getElementById("join-status").hidden = true;
    document.getElementById("join-failed").hidden = false;
  }
  if (!token) return fail();
  fetch((document.body.dataset.api || "/api") + "/session", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ inviteToken: token }),
  })
    .then(function (response) {
      if (!response.ok) throw new Error(String(response.status));
      window.location.replace(panel.dataset.next);
    })
    .catch(fail);
})();
