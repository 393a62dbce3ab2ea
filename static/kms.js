// The handout's navigation under the `module` unlock rule: the pages and files of modules not
// finished yet, and the whole-handout PDF until every module is, are shown locked (a note says
// when they open), not as links that would end on a refusal or a download that fails.
"use strict";
(function () {
  const nav = document.querySelector(".kms-nav");
  const kms = document.querySelector("[data-kms-unlock='module']");
  if (!nav || !kms || !window.Sillon.learner) return;

  function doneModules(outline, me) {
    const completed = new Set(me.completed || []);
    return new Set(
      outline.modules
        .filter(function (module) {
          return module.steps.every(function (step) { return completed.has(step.id); });
        })
        .map(function (module) { return module.id; })
    );
  }

  function lock(link, note) {
    const entry = document.createElement("span");
    entry.className = "kms-locked-entry";
    entry.dataset.locked = "true";
    entry.textContent = link.textContent + " ";
    const why = document.createElement("span");
    why.className = "kms-lock-note";
    why.textContent = "(" + note + ")";
    entry.appendChild(why);
    link.replaceWith(entry);
  }

  function lockPdf(link) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "button kms-locked-entry";
    button.dataset.locked = "true";
    button.disabled = true;
    button.textContent = link.textContent + " (" + nav.dataset.tLocked + ")";
    link.replaceWith(button);
  }

  Promise.all([
    window.Sillon.learner,
    fetch("/outline.json", { credentials: "same-origin" }).then(function (r) { return r.json(); }),
  ]).then(function (answers) {
    const me = answers[0];
    const outline = answers[1];
    if (!me) return;
    const done = doneModules(outline, me);
    nav.querySelectorAll(".kms-group[data-module-id]").forEach(function (group) {
      const id = group.dataset.moduleId;
      if (!id || done.has(id)) return;
      const note = nav.dataset.tLockedEntry.replace("{module}", id);
      group.querySelectorAll("a").forEach(function (link) { lock(link, note); });
    });
    const pdf = nav.querySelector(".kms-pdf a");
    if (pdf && done.size < outline.modules.length) lockPdf(pdf);
  });
})();
