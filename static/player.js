// The player: only the learner's open step, forward only. The server decides when a step is
// complete; the player shows it, reports what the learner does through the durable queue. A
// done step stays open (a reload keeps its text) until the learner moves on: the Next button
// (POST /api/next), after which it is closed for good.
"use strict";
(function () {
  const root = document.getElementById("player");
  if (!root) return;
  const T = root.dataset;
  const API = document.body.dataset.api || "/api";
  const stepBox = document.getElementById("step");
  const next = document.getElementById("next");
  const status = document.getElementById("status");
  const where = document.getElementById("where");
  const SPEED_KEY = "sillon.speed"; // the learner's chosen speed, for every video
  const toast = document.getElementById("toast");
  const queue = window.SillonQueue;
  let me = null;
  let outline = null;
  let current = null;
  let tracker = null;
  let pollTimer = null;

  function json(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(
      function (response) {
        return response.json().catch(function () { return null; }).then(function (body) {
          return { status: response.status, body: body };
        });
      }
    );
  }

  function show(panel) {
    ["player-main", "notice", "signed-out", "finished"].forEach(function (id) {
      document.getElementById(id).hidden = id !== panel;
    });
  }

  function setProgress() {
    const bar = root.querySelector("[data-progress='course']");
    if (!bar || !me) return;
    const percent = Math.round((100 * me.completed.length) / Math.max(1, me.totalSteps));
    bar.setAttribute("aria-valuenow", String(percent));
    bar.querySelector(".progress-bar").style.width = percent + "%";
  }

  // The end of the course: time on the steps, XP, badges earned, each quiz's best score.
  function summarize() {
    const box = document.getElementById("finished-summary");
    if (!box || !me.summary) return;
    const badges = me.badges.filter(function (b) { return b.earnedAt; }).map(badgeName);
    const rows = [
      [box.dataset.tTime, duration(me.summary.seconds)],
      [T.tXp, String(me.xp)],
      [box.dataset.tBadges, badges.join(", ") || box.dataset.tNone],
    ].concat(me.summary.quizzes.map(function (q) { return [q.title, window.Sillon.percent(q.score)]; }));
    box.innerHTML = "";
    rows.forEach(function (row) {
      const term = document.createElement("dt");
      term.textContent = row[0];
      const value = document.createElement("dd");
      value.textContent = row[1];
      box.append(term, value);
    });
  }

  // A badge's name in the course's language (the page lists them), else the API's.
  function badgeName(badge) {
    const known = document.querySelector("#badge-text [data-id='" + CSS.escape(badge.id) + "']");
    return known ? known.dataset.name : badge.name;
  }

  function duration(seconds) {
    const h = Math.floor(seconds / 3600);
    const m = Math.round((seconds % 3600) / 60);
    return h ? h + " h " + String(m).padStart(2, "0") : Math.max(1, m) + " min";
  }

  function locate(stepId) {
    if (!outline) return null;
    for (const module of outline.modules) {
      const index = module.steps.findIndex(function (s) { return s.id === stepId; });
      if (index >= 0) return { module: module, index: index };
    }
    return null;
  }

  function refresh() {
    return json(API + "/learner").then(function (answer) {
      if (answer.status === 401) {
        me = null;
        return;
      }
      if (answer.status !== 200) throw new Error(answer.status);
      me = answer.body;
    });
  }

  // What the address asks for, against where the learner is: finished and future steps show
  // their state, never their content.
  function render() {
    clearInterval(pollTimer);
    if (!me) return show("signed-out");
    setProgress();
    if (!me.currentStep) {
      summarize();
      return show("finished");
    }
    const wanted = decodeURIComponent(window.location.hash.slice(1));
    if (wanted && wanted !== me.currentStep.id && locate(wanted)) {
      const closed = me.completed.indexOf(wanted) >= 0;
      document.getElementById("notice-title").textContent = closed ? T.tClosedTitle : T.tLockedTitle;
      document.getElementById("notice-text").textContent = closed ? T.tClosedText : T.tLockedText;
      document.getElementById("notice-go").href = "/learn/#" + me.currentStep.id;
      return show("notice");
    }
    if (current && current.id === me.currentStep.id && stepBox.dataset.loaded === current.id) {
      return show("player-main");
    }
    return load(me.currentStep);
  }

  function load(step) {
    current = step;
    tracker = null;
    // notes.js: told now, or reads it when it runs later (deferred scripts may run after this)
    document.body.dataset.openStep = step.id;
    document.dispatchEvent(new CustomEvent("sillon:step", { detail: { id: step.id } }));
    if (window.location.hash.slice(1) !== step.id) history.replaceState(null, "", "/learn/#" + step.id);
    next.disabled = true;
    status.textContent = "";
    const place = locate(step.id);
    where.textContent = place ? place.module.id + " · " + place.module.title + " · " + (place.index + 1) + "/" + place.module.steps.length : "";
    return fetch("/steps/" + encodeURIComponent(step.id) + ".html", { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.text();
      })
      .then(function (html) {
        stepBox.innerHTML = html;
        stepBox.dataset.loaded = step.id;
        if (window.Sillon) window.Sillon.scrollable(stepBox);
        show("player-main");
        if (me && me.currentStepDone && me.currentStep.id === step.id) finishedBefore(step);
        if (step.type === "video") return video(step);
        if (step.type === "quiz") return stepBox.querySelector("[data-tally-form]") ? tally(step) : quiz(step);
        return lesson(step);
      })
      .catch(function (error) {
        stepBox.textContent = String(error);
      });
  }

  // -- step kinds -------------------------------------------------------------------------

  function video(step) {
    status.textContent = T.tWatchHint;
    return json(API + "/playback?stepId=" + encodeURIComponent(step.id)).then(function (answer) {
      if (answer.status !== 200) {
        status.textContent = answer.body && answer.body.error ? answer.body.error.message : "";
        return;
      }
      const info = answer.body;
      return mediaFor(info).then(function (media) {
        tracker = window.SillonVideo.track(media, {
          maxRate: info.maxRate,
          duration: info.duration,
          completion: info.completion,
          watched: info.intervals,
          resumeAt: info.resumeAt,
          reportEvery: info.reportEvery,
          report: function (intervals, action) {
            const body = { stepId: step.id, intervals: intervals };
            if (action) Object.assign(body, action); // played | paused | seeked, for xAPI
            queue.push(API + "/video-event", body);
          },
        });
        speedOptions(info.maxRate, media);
      });
    });
  }

  // The same tracking for both: a local <video>, or Cloudflare Stream's player, whose SDK
  // object speaks the HTMLMediaElement events and properties. Stream gets the signed token
  // the API issued for this step only.
  function mediaFor(info) {
    const local = stepBox.querySelector("video");
    if (info.kind !== "stream") {
      local.preload = "auto";
      return Promise.resolve(local);
    }
    const figure = stepBox.querySelector("figure.video");
    const frame = document.createElement("iframe");
    frame.src = info.iframeUrl;
    frame.title = current.title;
    frame.allow = "accelerometer; autoplay; encrypted-media; picture-in-picture";
    frame.allowFullscreen = true;
    figure.appendChild(frame);
    return loadScript("https://embed.cloudflarestream.com/embed/sdk.latest.js").then(function () {
      return window.Stream(frame);
    });
  }

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      if (document.querySelector("script[src='" + src + "']")) return resolve();
      const script = document.createElement("script");
      script.src = src;
      script.onload = resolve;
      script.onerror = reject;
      document.head.appendChild(script);
    });
  }

  // The speed control sits with the video (in its figure); the chosen speed, within the
  // course's cap, is remembered across reloads and videos.
  function speedOptions(cap, media) {
    const speed = stepBox.querySelector("#speed");
    if (!speed) return;
    const rates = [1, 1.25, 1.5, 1.75, 2, 2.5, 3].filter(function (r) { return r <= cap; });
    rates.forEach(function (rate) {
      const option = document.createElement("option");
      option.value = String(rate);
      option.textContent = rate + "×";
      speed.appendChild(option);
    });
    function choose(rate) {
      speed.value = String(rate);
      media.defaultPlaybackRate = rate; // kept when the media (re)loads
      if (tracker) tracker.setRate(rate);
    }
    const saved = Number(localStorage.getItem(SPEED_KEY)) || 1;
    choose(rates.filter(function (r) { return r <= saved; }).pop() || 1);
    speed.addEventListener("change", function () {
      localStorage.setItem(SPEED_KEY, speed.value);
      choose(Number(speed.value));
    });
    stepBox.querySelector("#speed-control").hidden = false;
  }

  // A step done before this page was opened (a reload, Back from a link in its text): the
  // learner reads it again, then moves on.
  function finishedBefore(step) {
    step.done = true;
    next.disabled = false;
    const form = stepBox.querySelector("form.quiz");
    if (step.type === "quiz" && form) {
      form.querySelectorAll("input, button").forEach(function (input) { input.disabled = true; });
      form.dataset.done = "1";
      const result = document.createElement("p");
      result.className = "quiz-result";
      result.dataset.passed = "true";
      result.textContent = T.tPassed;
      form.appendChild(result);
    }
  }

  function lesson(step) {
    if (me && me.currentStepDone) return; // read already: Next is open
    const button = document.createElement("button");
    button.type = "button";
    button.className = "button";
    button.id = "lesson-done";
    button.textContent = T.tLessonDone;
    button.addEventListener("click", function () {
      button.disabled = true;
      queue.push(API + "/lesson-done", { stepId: step.id });
    });
    stepBox.querySelector("article").appendChild(button);
  }

  // A built-in quiz. The server says what the attempt shows (a quiz with `draw` shows some of
  // its questions, choices shuffled: the fragment holds the pool) and when it may be sent (the
  // cooldown after failures, shown as a live countdown, also after a reload).
  function quiz(step) {
    const form = stepBox.querySelector("form.quiz");
    const submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    json(API + "/quiz-attempt?stepId=" + encodeURIComponent(step.id)).then(function (answer) {
      if (form.dataset.done) return; // passed already: no attempt to show
      if (answer.status !== 200) {
        status.textContent = answer.body && answer.body.error ? answer.body.error.message : "";
        return;
      }
      arrange(form, answer.body.questions);
      pace(form, answer.body.retryAfter);
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (form.dataset.redraw) return load(current); // a new draw for the next attempt
      const answers = Array.from(form.querySelectorAll("fieldset.question")).map(function (fieldset) {
        const picked = Array.from(fieldset.querySelectorAll("input:checked")).map(function (i) { return Number(i.value); });
        return fieldset.dataset.multiple === "true" ? picked : picked.length ? picked[0] : null;
      });
      if (answers.some(function (a) { return a === null || a.length === 0; })) {
        status.textContent = T.tUnanswered; // every question answered, or it is no attempt
        return;
      }
      submit.disabled = true;
      status.textContent = T.tChecking;
      queue.push(API + "/quiz-submission", { stepId: step.id, answers: answers });
    });
  }

  // The drawn questions in the order shown, each choice's value its shown position; the
  // questions not drawn leave the form.
  function arrange(form, drawn) {
    if (!drawn) return;
    const wait = form.querySelector(".quiz-wait");
    const pool = Array.from(form.querySelectorAll("fieldset.question"));
    pool.forEach(function (fieldset) { fieldset.remove(); });
    drawn.forEach(function (shown, index) {
      const fieldset = pool.find(function (f) { return Number(f.dataset.question) === shown.question; });
      const labels = Array.from(fieldset.querySelectorAll("label.choice"));
      shown.choices.forEach(function (choice, position) {
        const label = labels.find(function (l) { return Number(l.querySelector("input").value) === choice; });
        label.querySelector("input").dataset.position = String(position);
        fieldset.appendChild(label);
      });
      labels.forEach(function (label) {
        const input = label.querySelector("input");
        input.value = input.dataset.position;
        input.name = "q" + index;
      });
      fieldset.querySelector(".question-number").textContent = index + 1 + ".";
      form.insertBefore(fieldset, wait);
    });
  }

  // Submitting waits `seconds` (the cooldown): a live countdown, then submit opens again.
  function pace(form, seconds) {
    const submit = form.querySelector("button[type=submit]");
    submit.disabled = Boolean(seconds);
    countdownIn(form.querySelector(".quiz-wait"), seconds, function () { submit.disabled = false; });
  }

  let countdown = null;
  function countdownIn(box, seconds, done) {
    clearInterval(countdown);
    box.hidden = !seconds;
    if (!seconds) return done();
    const until = Date.now() + seconds * 1000;
    function tick() {
      const left = Math.ceil((until - Date.now()) / 1000);
      if (!box.isConnected) return clearInterval(countdown);
      if (left > 0) return (box.textContent = T.tWait.replace("{time}", clock(left)));
      clearInterval(countdown);
      box.textContent = T.tReady;
      done();
    }
    tick();
    countdown = setInterval(tick, 1000);
  }

  function clock(seconds) {
    const h = Math.floor(seconds / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = String(seconds % 60).padStart(2, "0");
    return h ? h + ":" + String(m).padStart(2, "0") + ":" + s : m + ":" + s;
  }

  // A graded attempt, as the quiz's feedback tells it: which questions were right only when
  // the answer says (`correct`), the score unless it is withheld.
  function graded(answer) {
    const form = stepBox.querySelector("form.quiz");
    if (!form) return;
    const questions = form.querySelectorAll("fieldset.question");
    questions.forEach(function (fieldset, index) {
      fieldset.querySelectorAll(".question-mark, .question-explain").forEach(function (old) { old.remove(); });
      fieldset.classList.remove("question-right", "question-wrong");
      if (!answer.correct) return;
      const right = answer.correct[index];
      fieldset.classList.add(right ? "question-right" : "question-wrong");
      const mark = document.createElement("p");
      mark.className = "question-mark";
      mark.textContent = right ? T.tCorrect : T.tWrong;
      fieldset.appendChild(mark);
      if (answer.explanations && answer.explanations[index]) {
        const explain = document.createElement("div");
        explain.className = "question-explain";
        explain.innerHTML = answer.explanations[index]; // the author's Markdown, rendered by the build
        fieldset.appendChild(explain);
      }
    });
    let result = form.querySelector(".quiz-result");
    if (!result) {
      result = document.createElement("p");
      result.className = "quiz-result";
      form.appendChild(result);
    }
    const score = answer.score === null || answer.score === undefined ? "" : " · " + T.tScore + " " + window.Sillon.percent(answer.score);
    result.textContent = (answer.passed ? T.tPassed : T.tFailed) + score;
    result.dataset.passed = String(answer.passed);
    status.textContent = "";
    if (answer.passed) {
      form.querySelectorAll("input, button").forEach(function (input) { input.disabled = true; });
      return complete(answer);
    }
    const submit = form.querySelector("button[type=submit]");
    submit.textContent = T.tRetake;
    if (form.dataset.draw) form.dataset.redraw = "1";
    pace(form, answer.retryAfter);
  }

  // A Tally quiz (static/tally.js): its form, then its result, which lands by webhook.
  function tally(step) {
    window.SillonTally(step, stepBox.querySelector("[data-tally-form]"), {
      api: API, T: T, json: json, status: status, countdownIn: countdownIn, complete: complete,
      me: function () { return me; },
      learned: function (fresh) { me = fresh; },
      poll: function (tick) { pollTimer = setInterval(tick, 3000); },
      stop: function () { clearInterval(pollTimer); },
    });
  }

  // -- answers from the server --------------------------------------------------------------

  function complete(answer, alreadyRefreshed) {
    celebrate(answer);
    next.disabled = false;
    status.textContent = "";
    if (!alreadyRefreshed) refresh().then(setProgress);
    next.focus();
  }

  function celebrate(answer) {
    const xp = (answer.xp || []).reduce(function (sum, award) { return sum + award.amount; }, 0);
    const lines = [];
    if (xp) lines.push("+" + xp + " " + T.tXp);
    if ((answer.xp || []).some(function (a) { return a.cause.indexOf("module:") === 0; })) lines.push(T.tModuleDone);
    (answer.badges || []).forEach(function (id) {
      const known = document.querySelector("#badge-text [data-id='" + CSS.escape(id) + "']");
      lines.push(T.tBadge + window.Sillon.colon + (known ? known.dataset.name : id));
    });
    if (!lines.length) return;
    toast.textContent = lines.join(" · ");
    toast.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { toast.hidden = true; }, 5000);
    const chip = document.querySelector("[data-fill='xp']");
    if (chip && me) {
      chip.textContent = me.xp + xp + " XP";
      chip.hidden = false;
    }
  }

  queue.onAnswer(function (item, code, answer) {
    if (!current || !answer) return;
    if (answer.error) {
      if (answer.error.code === "attempt_not_drawn") return load(current);
      if (code === 409 || code === 403) refresh().then(render);
      else status.textContent = answer.error.message;
      const form = stepBox.querySelector("form.quiz");
      if (answer.error.retryAfter && form) pace(form, answer.error.retryAfter);
      return;
    }
    if (answer.stepId !== current.id || answer.replayed && stepBox.dataset.loaded !== current.id) return;
    if (item.url.indexOf("/next") >= 0) return moved();
    if (item.url.indexOf("/quiz-submission") >= 0) return graded(answer);
    if (answer.complete) {
      if (!current.done) complete(answer); // once: a video watched again completes again
      current.done = true;
    } else if (answer.completesIn) reportAgain(answer.stepId, answer.completesIn);
  });

  // Enough of the video is watched but sooner than the speed cap allows: the server completes
  // the step once that time has passed, on the next report (an empty one if playback ended).
  let again = null;
  function reportAgain(stepId, seconds) {
    clearTimeout(again);
    again = setTimeout(function () {
      if (current && current.id === stepId) queue.push(API + "/video-event", { stepId: stepId, intervals: [] });
    }, Math.ceil(seconds * 1000) + 250);
  }

  // Next: the server closes the done step and opens the following one (or the end).
  next.addEventListener("click", function () {
    next.disabled = true;
    if (current) queue.push(API + "/next", { stepId: current.id });
  });

  function moved() {
    refresh().then(function () {
      if (me && me.currentStep) history.pushState(null, "", "/learn/#" + me.currentStep.id);
      render();
    });
  }

  window.addEventListener("popstate", function () { refresh().then(render); });
  window.addEventListener("hashchange", function () { refresh().then(render); });
  window.addEventListener("offline", function () { status.textContent = T.tOffline; });

  Promise.all([
    refresh(),
    json("/outline.json").then(function (answer) { outline = answer.body; }),
  ])
    .then(render)
    .catch(function (error) { stepBox.textContent = String(error); });
})();
