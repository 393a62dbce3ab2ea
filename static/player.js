// The player shell: show only the learner's open step, loaded from its gated fragment.
// Video tracking, quizzes and the durable event queue build on this (see the player issue).
"use strict";
(function () {
  const root = document.getElementById("player");
  if (!root) return;
  const stepBox = document.getElementById("step");
  const main = document.getElementById("player-main");
  const api = document.body.dataset.api || "/api";

  function show(id) {
    ["signed-out", "finished"].forEach(function (panel) {
      document.getElementById(panel).hidden = panel !== id;
    });
    main.hidden = Boolean(id);
  }

  fetch(api + "/learner", { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (response) {
      if (response.status === 401 || response.status === 403 || response.status === 404) return null;
      if (!response.ok) throw new Error(response.status + " " + response.statusText);
      return response.json();
    })
    .then(function (me) {
      if (!me) return show("signed-out");
      if (!me.currentStep) return show("finished");
      return fetch("/steps/" + encodeURIComponent(me.currentStep.id) + ".html", { credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) throw new Error(response.status + " " + response.statusText);
          return response.text();
        })
        .then(function (html) {
          stepBox.innerHTML = html;
          show(null);
        });
    })
    .catch(function (error) {
      stepBox.textContent = String(error);
    });
})();
