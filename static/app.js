// Every page: the print button, the XP chip, and the outline's done / open / locked states.
"use strict";
(function () {
  const api = document.body.dataset.api || "/api";

  document.querySelectorAll("[data-action='print']").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  function learner() {
    return fetch(api + "/learner", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .catch(function () { return null; });
  }

  function setProgress(target, done, total) {
    const bar = document.querySelector("[data-progress='" + CSS.escape(target) + "']");
    if (!bar || !total) return;
    const percent = Math.round((100 * done) / total);
    bar.setAttribute("aria-valuenow", String(percent));
    bar.querySelector(".progress-bar").style.width = percent + "%";
  }

  // Done steps are shown finished and are never links; only the open step leads to /learn/.
  function markOutline(me) {
    const steps = Array.from(document.querySelectorAll(".outline .step"));
    if (!steps.length) return;
    const completed = new Set(me.completed || []);
    const open = me.currentStep ? me.currentStep.id : null;
    const outline = document.querySelector(".outline");
    const labels = {
      done: outline.dataset.labelDone,
      open: outline.dataset.labelOpen,
      locked: outline.dataset.labelLocked,
    };
    steps.forEach(function (li) {
      const id = li.dataset.stepId;
      const state = completed.has(id) ? "done" : id === open ? "open" : "locked";
      li.dataset.state = state;
      const label = li.querySelector("[data-state-label]");
      if (label) label.textContent = labels[state];
    });
    document.querySelectorAll(".outline .module").forEach(function (module) {
      const items = module.querySelectorAll(".step");
      const done = module.querySelectorAll(".step[data-state='done']").length;
      setProgress(module.dataset.moduleId, done, items.length);
    });
    setProgress("course", completed.size, steps.length);
    const cta = document.querySelector("[data-fill='cta']");
    if (cta && completed.size) cta.hidden = !open;
  }

  learner().then(function (me) {
    if (!me) return;
    const chip = document.querySelector("[data-fill='xp']");
    if (chip && typeof me.xp === "number") {
      chip.textContent = me.xp + " XP";
      chip.hidden = false;
    }
    markOutline(me);
  });
})();
