// Author preview (serve mode only): show any step's fragment, without the learner's locks. Its
// files come from serve's ungated /_sillon/media/; a quiz is graded by serve against the course
// just built, everything told, nothing recorded (no attempt, no XP, nobody's progress).
"use strict";
(function () {
  const target = document.getElementById("step");
  const params = new URLSearchParams(window.location.search);
  const first = document.querySelector("[data-step-id]");
  const id = params.get("step") || (first && first.dataset.stepId);
  if (!target || !id) return;
  const T = target.dataset;

  function ungated(root) {
    root.querySelectorAll("[src^='/media/'], [href^='/media/'], [data-src^='/media/']").forEach(function (node) {
      ["src", "href", "data-src"].forEach(function (name) {
        const value = node.getAttribute(name);
        if (value && value.indexOf("/media/") === 0) node.setAttribute(name, "/_sillon" + value);
      });
    });
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    node.className = className;
    node.textContent = text;
    return node;
  }

  function answersOf(form) {
    return Array.from(form.querySelectorAll("fieldset.question")).map(function (fieldset) {
      const picked = Array.from(fieldset.querySelectorAll("input:checked")).map(function (i) { return Number(i.value); });
      return fieldset.dataset.multiple === "true" ? picked : picked.length ? picked[0] : null;
    });
  }

  function show(form, answer) {
    form.querySelectorAll(".question-mark, .question-explain, .quiz-result").forEach(function (old) { old.remove(); });
    form.querySelectorAll("fieldset.question").forEach(function (fieldset, index) {
      const right = answer.correct[index];
      fieldset.classList.remove("question-right", "question-wrong");
      fieldset.classList.add(right ? "question-right" : "question-wrong");
      fieldset.appendChild(element("p", "question-mark", right ? T.tCorrect : T.tWrong));
      if (answer.explanations[index]) {
        const explain = element("div", "question-explain", "");
        explain.innerHTML = answer.explanations[index]; // the author's Markdown, rendered by the build
        ungated(explain);
        fieldset.appendChild(explain);
      }
    });
    const score = window.Sillon.percent(answer.score);
    const result = element("p", "quiz-result", (answer.passed ? T.tPassed : T.tFailed) + " · " + T.tScore + " " + score);
    result.dataset.passed = String(answer.passed);
    form.appendChild(result);
  }

  function quiz(form) {
    const status = element("p", "muted", T.tGraded);
    status.setAttribute("role", "status");
    form.appendChild(status);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const answers = answersOf(form);
      if (answers.some(function (a) { return a === null || a.length === 0; })) {
        status.textContent = T.tUnanswered;
        return;
      }
      fetch("/_sillon/grade", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ stepId: id, answers: answers }),
      })
        .then(function (response) { return response.json(); })
        .then(function (answer) {
          if (answer.error) throw new Error(answer.error.message);
          status.textContent = T.tGraded;
          show(form, answer);
        })
        .catch(function (error) { status.textContent = String(error); });
    });
  }

  fetch("/_sillon/steps/" + encodeURIComponent(id) + ".html", { credentials: "same-origin" })
    .then(function (response) {
      if (!response.ok) throw new Error(response.status + " " + response.statusText);
      return response.text();
    })
    .then(function (html) {
      const fragment = document.createElement("template");
      fragment.innerHTML = html;
      ungated(fragment.content);
      target.replaceChildren(fragment.content);
      const form = target.querySelector("form.quiz");
      if (form) quiz(form);
      const tally = target.querySelector("[data-tally-form]");
      if (tally) tally.appendChild(element("p", "muted", T.tTally));
      document.querySelectorAll("a[data-step-id='" + CSS.escape(id) + "']").forEach(function (a) {
        a.setAttribute("aria-current", "page");
      });
    })
    .catch(function (error) {
      target.textContent = String(error);
    });
})();
