// The cohort page's reminders: a checkbox in the learners table for each stalled learner (the
// insight's rule, said by the API), "tick every stalled learner", and "email a reminder"
// (POST /api/admin/nudges): each ticked learner gets a personal sign-in link, once a day at
// most; each row then says what happened. Everything shown is set as text.
"use strict";
(function () {
  const box = document.getElementById("admin-nudge");
  if (!box) return;
  const api = document.body.dataset.api || "/api";
  const lang = document.body.dataset.lang || "fr";
  const day = new Intl.DateTimeFormat(lang, { dateStyle: "medium" });
  const s = box.dataset;
  const status = document.getElementById("admin-nudge-status");

  // The first cell of a learner's row: a checkbox when stalled, and when last reminded.
  function pick(learner) {
    const wrap = document.createElement("span");
    if (learner.stalled) {
      const box = document.createElement("input");
      box.type = "checkbox";
      box.className = "admin-nudge-pick";
      box.value = learner.userId;
      box.setAttribute("aria-label", s.pick.replace("{name}", learner.name));
      wrap.appendChild(box);
    }
    if (learner.lastReminded) {
      const when = document.createElement("small");
      when.className = "muted admin-nudge-when";
      when.textContent = " " + s.reminded.replace("{day}", day.format(new Date(learner.lastReminded)));
      wrap.appendChild(when);
    }
    return wrap;
  }
  window.SillonNudges = { pick: pick };

  function picked() {
    return Array.from(document.querySelectorAll("#admin-learners .admin-nudge-pick:checked"));
  }

  document.getElementById("admin-nudge-all").addEventListener("click", function () {
    document.querySelectorAll("#admin-learners .admin-nudge-pick").forEach(function (box) {
      box.checked = !box.disabled;
    });
  });

  document.getElementById("admin-nudge-send").addEventListener("click", function () {
    const boxes = picked();
    if (!boxes.length) {
      status.textContent = s.none;
      return;
    }
    const send = document.getElementById("admin-nudge-send");
    send.disabled = true;
    fetch(api + "/admin/nudges", {
      method: "POST",
      credentials: "omit",
      headers: window.sillonAdminHeaders({ "Content-Type": "application/json" }),
      body: JSON.stringify({ userIds: boxes.map(function (box) { return box.value; }) }),
    })
      .then(function (response) {
        return response.json().then(function (answer) {
          if (!response.ok) throw new Error((answer.error && answer.error.message) || response.status);
          return answer.results;
        });
      })
      .then(function (results) {
        const counts = { sent: 0, skipped: 0, failed: 0 };
        results.forEach(function (result) {
          counts[result.status] += 1;
          const box = document.querySelector(".admin-nudge-pick[value='" + CSS.escape(result.userId) + "']");
          if (!box) return;
          box.checked = false;
          box.disabled = result.status !== "failed";
          const said = document.createElement("small");
          said.className = "admin-nudge-result";
          const key = result.status === "skipped" ? result.reason.replace(/_(\w)/g, function (all, c) { return c.toUpperCase(); }) : result.status;
          said.textContent = " " + (s[key] || result.reason || result.status);
          box.parentNode.appendChild(said);
        });
        status.textContent = s.done.replace("{sent}", counts.sent).replace("{skipped}", counts.skipped).replace("{failed}", counts.failed);
      })
      .catch(function (problem) { status.textContent = problem.message; })
      .finally(function () { send.disabled = false; });
  });
})();
