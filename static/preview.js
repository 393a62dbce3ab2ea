// Author preview (serve mode only): show any step's fragment, without the learner's locks.
"use strict";
(function () {
  const target = document.getElementById("step");
  const params = new URLSearchParams(window.location.search);
  const first = document.querySelector("[data-step-id]");
  const id = params.get("step") || (first && first.dataset.stepId);
  if (!target || !id) return;
  fetch("/_sillon/steps/" + encodeURIComponent(id) + ".html", { credentials: "same-origin" })
    .then(function (response) {
      if (!response.ok) throw new Error(response.status + " " + response.statusText);
      return response.text();
    })
    .then(function (html) {
      target.innerHTML = html;
      document.querySelectorAll("[data-step-id='" + CSS.escape(id) + "']").forEach(function (a) {
        a.setAttribute("aria-current", "page");
      });
    })
    .catch(function (error) {
      target.textContent = String(error);
    });
})();
