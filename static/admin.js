// The teachers' cohort insight: ask for the admin token (kept in sessionStorage only), then show
// a team's progress from the admin endpoints. Everything shown is set as text, never as HTML.
"use strict";
(function () {
  const main = document.querySelector("main.admin");
  if (!main) return;
  const api = document.body.dataset.api || "/api";
  const lang = document.body.dataset.lang || "fr";
  const KEY = "sillon-admin-token";
  const COHORT = "sillon-admin-cohort"; // with several cohort databases: the one shown
  const s = main.dataset;
  const login = document.getElementById("admin-login");
  const error = document.getElementById("admin-error");
  const view = document.getElementById("admin-insight");
  const teamView = document.getElementById("admin-team-view");
  const select = document.getElementById("admin-team");
  const signOut = document.getElementById("admin-sign-out");
  const percent = new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 0 });
  const number = new Intl.NumberFormat(lang);
  const day = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });
  let versions = [];

  function token() {
    return sessionStorage.getItem(KEY) || "";
  }

  // Every admin call's headers (admin_certificates.js and admin_nudges.js use them too): the
  // token, and the cohort when the API serves several (X-Sillon-Cohort; README "Several
  // databases").
  function headers(extra) {
    const all = Object.assign({ Authorization: "Bearer " + token(), Accept: "application/json" }, extra);
    const cohort = sessionStorage.getItem(COHORT);
    if (cohort) all["X-Sillon-Cohort"] = cohort;
    return all;
  }
  window.sillonAdminHeaders = headers;

  // A failed call: the one JSON error shape, kept with its status.
  function failure(response) {
    return response
      .json()
      .catch(function () { return {}; })
      .then(function (body) {
        const problem = new Error((body.error && body.error.message) || response.statusText);
        problem.status = response.status;
        throw problem;
      });
  }

  function call(path) {
    return fetch(api + path, { credentials: "omit", headers: headers() })
      .then(function (response) { return response.ok ? response : failure(response); });
  }

  function getJson(path) {
    return call(path).then(function (response) { return response.json(); });
  }

  function postJson(path, body) {
    return fetch(api + path, {
      method: "POST",
      credentials: "omit",
      headers: headers({ "Content-Type": "application/json" }),
      body: JSON.stringify(body),
    }).then(function (response) { return response.ok ? response.json() : failure(response); });
  }

  // A new sign-in link for a learner who lost theirs: the old links stop working (and, when
  // ticked, every session of theirs ends). The link is shown once, as text, to pass on.
  function reissue(learner) {
    if (!window.confirm(s.reissueConfirm.replace("{name}", learner.name))) return;
    const revoke = document.getElementById("admin-reissue-revoke").checked;
    postJson("/admin/invite", { userId: learner.userId, revokeSessions: revoke })
      .then(function (answer) {
        const done = document.getElementById("admin-reissued");
        done.querySelector("[data-fill='reissued']").textContent = s.reissueDone
          .replace("{name}", learner.name)
          .replace("{n}", String(answer.sessionsEnded));
        document.getElementById("admin-reissued-url").value = answer.inviteUrl;
        done.hidden = false;
      })
      .catch(trouble);
  }

  // Start a learner's course again from the first step (their XP and badges stay), then show
  // the team again: the figures and the learners moved.
  function reset(learner) {
    if (!window.confirm(s.resetConfirm.replace("{name}", learner.name))) return;
    postJson("/admin/reset", { userId: learner.userId })
      .then(function () {
        const done = document.getElementById("admin-reset-done");
        done.textContent = s.resetDone.replace("{name}", learner.name);
        done.hidden = false;
        delete document.getElementById("admin-learners").dataset.loaded;
        return showTeam(teamView.dataset.team);
      })
      .catch(trouble);
  }

  function showLogin(message) {
    view.hidden = true;
    signOut.hidden = true;
    login.hidden = false;
    error.hidden = !message;
    error.textContent = message || "";
    document.getElementById("admin-token").focus();
  }

  function trouble(problem) {
    if (problem.status === 401) {
      sessionStorage.removeItem(KEY);
      showLogin(s.badToken);
    } else if (problem.status === 403) {
      sessionStorage.removeItem(KEY);
      showLogin(s.failed + " " + problem.message);
    } else if (view.hidden) {
      showLogin(s.failed + " " + problem.message);
    } else {
      error.hidden = false;
      error.textContent = s.failed + " " + problem.message;
    }
  }

  function cell(row, value, header) {
    const element = document.createElement(header ? "th" : "td");
    if (header) element.scope = "row";
    if (value instanceof Node) element.appendChild(value);
    else element.textContent = value;
    row.appendChild(element);
    return element;
  }

  // A figure with its bar (the bar is decoration: the figure is the text).
  function bar(label, fraction) {
    const wrap = document.createElement("span");
    wrap.className = "admin-figure";
    const text = document.createElement("span");
    text.textContent = label;
    const track = document.createElement("span");
    track.className = "admin-bar";
    track.setAttribute("aria-hidden", "true");
    const fill = document.createElement("span");
    fill.style.width = Math.round(Math.max(0, Math.min(1, fraction || 0)) * 100) + "%";
    track.appendChild(fill);
    wrap.append(text, track);
    return wrap;
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    if (seconds < 59.5) return Math.round(seconds) + " " + s.unitS;
    if (seconds < 3570) {
      const total = Math.round(seconds);
      const m = Math.floor(total / 60), rest = total % 60;
      return m + " " + s.unitMin + (rest ? " " + rest + " " + s.unitS : "");
    }
    if (seconds < 86100) {
      const total = Math.round(seconds / 60);
      const h = Math.floor(total / 60), rest = total % 60;
      return h + " " + s.unitH + (rest ? " " + rest + " " + s.unitMin : "");
    }
    const total = Math.round(seconds / 3600);
    const d = Math.floor(total / 24), rest = total % 24;
    return d + " " + s.unitD + (rest ? " " + rest + " " + s.unitH : "");
  }

  function versionLabel(version) {
    return version.label + " · " + version.version.slice(0, 10);
  }

  function fill(name, value) {
    main.querySelector("[data-fill='" + name + "']").textContent = value;
  }

  function clear(table) {
    const body = table.querySelector("tbody");
    body.replaceChildren();
    return body;
  }

  function renderSteps(insight) {
    const body = clear(document.getElementById("admin-steps"));
    const busiest = Math.max(1, ...insight.steps.map(function (step) { return step.onStep; }));
    insight.steps.forEach(function (step) {
      const row = document.createElement("tr");
      row.dataset.stepId = step.id;
      cell(row, String(step.position));
      const title = document.createElement("span");
      const kind = document.createElement("span");
      kind.className = "admin-kind";
      kind.textContent = s["kind" + step.kind.charAt(0).toUpperCase() + step.kind.slice(1)];
      title.append(step.title, " ", kind);
      cell(row, title, true);
      cell(row, step.module);
      cell(row, bar(number.format(step.onStep), step.onStep / busiest));
      cell(row, number.format(step.stalled)).dataset.stalled = step.stalled ? "yes" : "no";
      const share = step.completedShare === null ? "" : " (" + percent.format(step.completedShare) + ")";
      cell(row, bar(number.format(step.completed) + share, step.completedShare));
      cell(row, duration(step.medianSeconds));
      const quiz = step.quiz;
      if (quiz && quiz.tried) {
        const label = percent.format(quiz.firstTryRate) + " (" + quiz.firstTryPassed + "/" + quiz.tried + ")";
        cell(row, bar(label, quiz.firstTryRate));
      } else {
        cell(row, "–");
      }
      body.appendChild(row);
    });
  }

  function renderStreaks(insight) {
    const body = clear(document.getElementById("admin-streaks"));
    insight.streaks.forEach(function (bucket) {
      const row = document.createElement("tr");
      cell(row, bucket.label, true);
      cell(row, bar(number.format(bucket.learners), bucket.learners / Math.max(1, insight.learners)));
      body.appendChild(row);
    });
  }

  function renderVersions(insight) {
    const body = clear(document.getElementById("admin-versions"));
    const team = {};
    insight.versions.forEach(function (version) { team[version.version] = version.learners; });
    versions.forEach(function (version) {
      const row = document.createElement("tr");
      const name = versionLabel(version) + (version.current ? " (" + s.current + ")" : "");
      cell(row, name, true).title = version.version;
      cell(row, version.publishedAt ? day.format(new Date(version.publishedAt)) : "–");
      cell(row, number.format(team[version.version] || 0));
      cell(row, number.format(version.learners));
      body.appendChild(row);
    });
  }

  // The learners table loads when opened (its reads grow with the team's completions).
  function renderLearners(team, rows) {
    const details = document.getElementById("admin-learners");
    if (teamView.dataset.team !== team) return;
    const body = clear(details.querySelector("table"));
    const titles = JSON.parse(details.dataset.titles || "{}");
    rows.forEach(function (learner) {
      const row = document.createElement("tr");
      row.dataset.userId = learner.userId;
      row.dataset.name = learner.name;
      cell(row, window.SillonNudges ? window.SillonNudges.pick(learner) : "");
      cell(row, learner.name, true);
      const where = learner.currentStep === "(finished)" ? s.finished
        : learner.currentStep === "(not started)" ? s.notStarted
        : learner.currentStep === "(never signed in)" ? s.neverSignedIn
        : titles[learner.currentStep] || learner.currentStep;
      cell(row, where);
      cell(row, learner.lastActive ? day.format(new Date(learner.lastActive)) : "–").title =
        learner.lastActive;
      cell(row, learner.courseVersionLabel || "–").title = learner.courseVersion;
      cell(row, learner.versionsFollowed || "–");
      cell(row, number.format(learner.completed));
      cell(row, number.format(learner.streak));
      cell(row, number.format(learner.notes));  // how many: what they say is the learner's
      const again = document.createElement("button");
      again.type = "button";
      again.className = "button";
      again.textContent = s.reissue;
      again.addEventListener("click", function () { reissue(learner); });
      cell(row, again);
      const restart = document.createElement("button");
      restart.type = "button";
      restart.className = "button";
      restart.dataset.action = "reset";
      restart.textContent = s.reset;
      restart.addEventListener("click", function () { reset(learner); });
      cell(row, restart);
      body.appendChild(row);
    });
    details.dataset.loaded = team;
  }

  function loadLearners() {
    const details = document.getElementById("admin-learners");
    const team = teamView.dataset.team;
    if (!details.open || !team || details.dataset.loaded === team) return;
    getJson("/admin/learners?teamId=" + encodeURIComponent(team))
      .then(function (answer) { renderLearners(team, answer.learners); })
      .catch(trouble);
  }

  function render(insight) {
    fill("learners", number.format(insight.learners));
    fill("never-signed-in", number.format(insight.neverSignedIn));
    fill("not-started", number.format(insight.notStarted));
    fill("finished", number.format(insight.finished));
    fill("version", insight.course.label ? insight.course.label + " · " + insight.course.version.slice(0, 10) : "–");
    fill("note", s.note.replace("{days}", String(insight.stallDays)));
    const elsewhere = main.querySelector("[data-fill='elsewhere']");
    elsewhere.hidden = !insight.elsewhere;
    elsewhere.textContent = elsewhere.dataset.label.replace("{n}", number.format(insight.elsewhere));
    renderSteps(insight);
    renderStreaks(insight);
    renderVersions(insight);
    teamView.hidden = false;
    teamView.dataset.team = insight.teamId;
    const details = document.getElementById("admin-learners");
    const titles = {};
    insight.steps.forEach(function (step) { titles[step.id] = step.title; });
    details.dataset.titles = JSON.stringify(titles);
    if (details.dataset.loaded !== insight.teamId) {
      clear(details.querySelector("table"));
      delete details.dataset.loaded;
    }
    loadLearners();
  }

  function showTeam(team) {
    history.replaceState(null, "", "#team=" + encodeURIComponent(team));
    return getJson("/admin/insight?teamId=" + encodeURIComponent(team)).then(function (insight) {
      error.hidden = true;
      render(insight);
    });
  }

  function wantedTeam() {
    const match = /team=([^&]*)/.exec(location.hash);
    return match ? decodeURIComponent(match[1]) : null;
  }

  // The cohorts /api/health lists (none: one database, no choice to make); the chosen one is
  // kept in this tab like the token, the first by default.
  function chooseCohort() {
    return fetch(api + "/health", { credentials: "omit", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .catch(function () { return {}; })
      .then(function (health) {
        const cohorts = Array.isArray(health.cohorts) ? health.cohorts : [];
        const row = document.getElementById("admin-cohort-row");
        const picker = document.getElementById("admin-cohort");
        row.hidden = cohorts.length < 2;
        if (row.hidden) {
          sessionStorage.removeItem(COHORT);
          return;
        }
        if (cohorts.indexOf(sessionStorage.getItem(COHORT)) < 0) sessionStorage.setItem(COHORT, cohorts[0]);
        picker.replaceChildren();
        cohorts.forEach(function (name) {
          const option = document.createElement("option");
          option.value = option.textContent = name;
          picker.appendChild(option);
        });
        picker.value = sessionStorage.getItem(COHORT);
      });
  }

  function open() {
    return chooseCohort()
      .then(function () { return Promise.all([getJson("/admin/teams"), getJson("/admin/versions")]); })
      .then(function (answers) {
        const teams = answers[0].teams;
        versions = answers[1].versions;
        login.hidden = true;
        error.hidden = true;
        view.hidden = false;
        signOut.hidden = false;
        select.replaceChildren();
        teams.forEach(function (team) {
          const option = document.createElement("option");
          option.value = team.teamId;
          option.textContent = team.teamId + " (" + number.format(team.learners) + ")";
          select.appendChild(option);
        });
        document.getElementById("admin-empty").hidden = teams.length > 0;
        view.querySelectorAll("[data-csv]").forEach(function (button) { button.disabled = !teams.length; });
        if (!teams.length) return null;
        const wanted = wantedTeam();
        if (wanted && teams.some(function (team) { return team.teamId === wanted; })) select.value = wanted;
        return showTeam(select.value);
      })
      .catch(trouble);
  }

  function download(table) {
    const team = select.value;
    const path = "/admin/insight.csv?teamId=" + encodeURIComponent(team) + "&table=" + table;
    return call(path)
      .then(function (response) { return response.blob(); })
      .then(function (blob) {
        const url = URL.createObjectURL(blob);
        const link = document.createElement("a");
        link.href = url;
        link.download = "insight-" + team.replace(/[^A-Za-z0-9_.-]/g, "_") + "-" + table + ".csv";
        document.body.appendChild(link);
        link.click();
        link.remove();
        setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
      })
      .catch(trouble);
  }

  login.addEventListener("submit", function (submitted) {
    submitted.preventDefault();
    const field = document.getElementById("admin-token");
    sessionStorage.setItem(KEY, field.value.trim());
    field.value = "";
    open();
  });
  signOut.addEventListener("click", function () {
    sessionStorage.removeItem(KEY);
    showLogin("");
  });
  select.addEventListener("change", function () { showTeam(select.value).catch(trouble); });
  // Another cohort: another database, so the page starts again on it (teams, learners, all).
  document.getElementById("admin-cohort").addEventListener("change", function (changed) {
    sessionStorage.setItem(COHORT, changed.target.value);
    history.replaceState(null, "", location.pathname);
    location.reload();
  });
  document.getElementById("admin-learners").addEventListener("toggle", loadLearners);
  view.querySelectorAll("[data-csv]").forEach(function (button) {
    button.addEventListener("click", function () { download(button.dataset.csv); });
  });

  if (token()) open();
  else showLogin("");
})();
