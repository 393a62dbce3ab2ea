// The player's Tally step (static/player.js calls it with what it shares): the form, with its
// signed hidden field, once the cooldown after failed responses is over. The score lands by
// webhook: the step says so once Tally's embed reports the form sent, and polls the attempt
// (GET /api/quiz-attempt) until a new one is graded: its score and pass or fail, the XP toast
// and Next on a pass, the form again (after the cooldown's countdown) on a fail.
"use strict";
(function () {
  window.SillonTally = function (step, box, player) {
    const T = player.T;
    const wait = document.createElement("p");
    wait.className = "quiz-wait";
    wait.setAttribute("role", "status");
    box.appendChild(wait);
    const result = document.createElement("p");
    result.className = "quiz-result";
    result.hidden = true;
    box.after(result);
    const me = player.me();
    if (me && me.currentStepDone) return; // passed already: Next is open
    const before = { xp: me ? me.xp : 0, badges: earnedBadges(me) };
    attemptOf().then(function (seen) {
      let tried = seen ? seen.tried : 0;
      formLink();
      player.poll(function () {
        attemptOf().then(function (attempt) {
          if (!attempt || attempt.tried <= tried) return;
          tried = attempt.tried;
          graded(attempt);
        });
      });
    });

    function attemptOf() {
      const url = player.api + "/quiz-attempt?stepId=" + encodeURIComponent(step.id);
      return player.json(url).then(function (answer) {
        return answer.status === 200 ? answer.body : null;
      });
    }

    function graded(attempt) {
      const passed = attempt.failed === 0;
      const score = attempt.lastScore === null ? "" : " · " + T.tScore + " " + window.Sillon.percent(attempt.lastScore);
      result.textContent = (passed ? T.tPassed : T.tFailed) + score;
      result.dataset.passed = String(passed);
      result.hidden = false;
      player.status.textContent = "";
      box.querySelectorAll("iframe").forEach(function (frame) { frame.remove(); });
      if (passed) player.stop();
      else formLink(); // the retake, after the cooldown if any
      // What this attempt earned: the learner's XP and badges now against before it.
      player.json(player.api + "/learner").then(function (answer) {
        if (answer.status !== 200) return;
        const after = answer.body;
        const badges = earnedBadges(after).filter(function (id) { return before.badges.indexOf(id) < 0; });
        const gained = after.xp - before.xp;
        before.xp = after.xp;
        before.badges = before.badges.concat(badges);
        if (!passed) return player.learned(after);
        player.complete({ xp: gained > 0 ? [{ cause: "quiz:" + step.id, amount: gained }] : [], badges: badges });
      });
    }

    // The form with its signed field, once the cooldown after failed responses is over.
    function formLink() {
      player.json(player.api + "/tally-link?stepId=" + encodeURIComponent(step.id)).then(function (answer) {
        const error = answer.body && answer.body.error;
        if (answer.status === 429 && error && error.retryAfter) {
          box.querySelectorAll("iframe").forEach(function (frame) { frame.remove(); });
          return player.countdownIn(wait, error.retryAfter, formLink);
        }
        if (answer.status !== 200) return;
        const frame = document.createElement("iframe");
        frame.src = answer.body.formUrl;
        frame.title = step.title;
        frame.className = "tally-frame";
        frame.loading = "lazy";
        box.appendChild(frame);
        player.status.textContent = T.tTallyWaiting;
      });
    }
  };

  function earnedBadges(me) {
    return ((me && me.badges) || []).filter(function (b) { return b.earnedAt; }).map(function (b) { return b.id; });
  }

  // Tally's embed says when its form was sent: the score is on its way (the webhook).
  window.addEventListener("message", function (event) {
    if (event.origin !== "https://tally.so" || !document.querySelector("#step [data-tally-form]")) return;
    const text = typeof event.data === "string" ? event.data : JSON.stringify(event.data);
    if (text.indexOf("Tally.FormSubmitted") < 0) return;
    document.getElementById("status").textContent = document.getElementById("player").dataset.tTallyPending;
  });
})();
