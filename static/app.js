// Every page: the print button, the XP chip, and the outline's done / open / locked states.
"use strict";
(function () {
  const api = document.body.dataset.api || "/api";

  // Code blocks and wide tables scroll sideways on small screens: keyboard users must reach them.
  function scrollable(root) {
    root.querySelectorAll(".prose pre, .prose table").forEach(function (element) {
      element.setAttribute("tabindex", "0");
    });
  }
  // Typography of the page's language: "80 %" and "Score : " in French, "80%" and "Score: " in English.
  const lang = document.documentElement.lang || "fr";
  const percents = new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 0 });
  function percent(share) { return percents.format(share); }
  const colon = lang === "fr" ? "\u202f: " : ": ";
  window.Sillon = { scrollable: scrollable, percent: percent, colon: colon };
  scrollable(document);

  document.querySelectorAll("[data-action='print']").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  // The learner's progress; null when nobody is signed in (401), undefined when the API is away.
  function learner() {
    return fetch(api + "/learner", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401) return null;
        return response.ok ? response.json() : undefined;
      })
      .catch(function () { return undefined; });
  }

  // Signed out: the page says how to get in instead of waiting for a progress that never comes.
  function signedOut() {
    document.querySelectorAll("[data-signed-in]").forEach(function (part) { part.hidden = true; });
    document.querySelectorAll("[data-signed-out]").forEach(function (part) { part.hidden = false; });
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
    if (cta && open && completed.size) cta.textContent = cta.dataset.continue + colon + me.currentStep.title;
    if (cta && !open) cta.hidden = true;
    const finished = document.querySelector("[data-fill='finished']");
    if (finished) finished.hidden = Boolean(open) || !steps.length; // the end of the course
  }

  function text(tag, value, className) {
    const node = document.createElement(tag);
    node.textContent = value;
    if (className) node.className = className;
    return node;
  }

  function fillMe(me) {
    const box = document.querySelector("[data-fill='me']");
    if (!box) return;
    document.querySelector("[data-fill='me-xp']").textContent = String(me.xp);
    document.querySelector("[data-fill='me-level']").textContent = String(me.level);
    document.querySelector("[data-fill='me-streak']").textContent = String(me.streak.current);
    setProgress("course", me.completed.length, me.totalSteps);
    document.querySelector("[data-fill='me-next-level']").textContent = box.dataset.nextLevel
      .replace("{xp}", String(me.xpToNextLevel))
      .replace("{level}", String(me.level + 1));
    const date = new Intl.DateTimeFormat(document.documentElement.lang, { dateStyle: "long" });
    const earned = document.querySelector("[data-fill='me-badges']");
    const todo = document.querySelector("[data-fill='me-badges-todo']");
    me.badges.forEach(function (badge) {
      const local = document.querySelector("#badge-text [data-id='" + CSS.escape(badge.id) + "']");
      const name = local ? local.dataset.name : badge.name;
      const rule = local ? local.dataset.rule : badge.rule;
      const item = document.createElement("li");
      item.className = "badge";
      item.dataset.earned = String(Boolean(badge.earnedAt));
      item.appendChild(text("strong", name));
      const when = badge.earnedAt ? box.dataset.earnedOn + " " + date.format(new Date(badge.earnedAt)) : rule;
      item.appendChild(text("span", when, "muted"));
      (badge.earnedAt ? earned : todo).appendChild(item);
    });
  }

  function fillBoard(me, period) {
    const rows = document.querySelector("[data-fill='board-rows']");
    if (!rows) return;
    const board = document.querySelector("[data-fill='board']");
    fetch(api + "/leaderboard?period=" + period, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) {
        rows.innerHTML = "";
        if (!answer || !answer.entries.length) {
          const row = document.createElement("tr");
          const cell = text("td", board.dataset.empty, "muted");
          cell.colSpan = 3;
          row.appendChild(cell);
          rows.appendChild(row);
          return;
        }
        answer.entries.forEach(function (entry) {
          const row = document.createElement("tr");
          if (entry.me) {
            row.className = "me";
            row.setAttribute("aria-current", "true");
          }
          row.appendChild(text("td", String(entry.rank)));
          row.appendChild(text("td", entry.me ? entry.name + " (" + board.dataset.me + ")" : entry.name));
          row.appendChild(text("td", String(entry.xp)));
          rows.appendChild(row);
        });
      });
  }

  document.querySelectorAll("[role='tab'][data-period]").forEach(function (tab) {
    tab.addEventListener("click", function () {
      document.querySelectorAll("[role='tab'][data-period]").forEach(function (other) {
        other.setAttribute("aria-selected", String(other === tab));
      });
      fillBoard(null, tab.dataset.period);
    });
  });

  // Sign out: this browser's session ends (the others stay: the profile ends them).
  function signOut() {
    fetch(api + "/session", { method: "DELETE", credentials: "same-origin" })
      .catch(function () { return null; })
      .then(function () { window.location.assign("/"); });
  }

  const signedIn = learner();
  window.Sillon.learner = signedIn;
  signedIn.then(function (me) {
    if (me === null) return signedOut();
    if (!me) return;
    document.querySelectorAll("[data-action='sign-out']").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", signOut);
    });
    const chip = document.querySelector("[data-fill='xp']");
    if (chip && typeof me.xp === "number") {
      chip.textContent = me.xp + " XP";
      chip.hidden = false;
    }
    markOutline(me);
    fillMe(me);
    fillBoard(me, "7d");
  });
})();
