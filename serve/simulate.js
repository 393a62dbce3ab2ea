// Added by `python build.py serve` on a loopback address only: Tally's servers cannot reach this
// machine, so a Tally step offers a simulated response, which serve posts to its own API as the
// signed webhook Tally would send. The player then sees the step done as with a real response.
"use strict";
(function () {
  let words = null;

  function strings() {
    if (words) return Promise.resolve(words);
    const language = document.documentElement.lang || "en";
    return fetch("/_sillon/strings/" + encodeURIComponent(language))
      .then(function (response) { return response.json(); })
      .then(function (found) { words = found; return found; });
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function offer(box) {
    const step = box.closest("[data-step-id]");
    if (box.dataset.simulate || !step || document.body.classList.contains("page-preview")) return;
    box.dataset.simulate = "1";
    strings().then(function (t) {
      const form = element("form", "tally-simulate");
      form.appendChild(element("p", "muted", t.serve_tally_note));
      const label = element("label", "", t.serve_tally_score + " ");
      const score = element("input");
      Object.assign(score, { type: "number", min: "0", max: "100", step: "1", value: "100", name: "score" });
      label.appendChild(score);
      form.appendChild(label);
      const send = element("button", "button", t.serve_tally_simulate);
      send.type = "submit";
      form.appendChild(send);
      const said = element("p", "muted");
      said.setAttribute("role", "status");
      form.appendChild(said);
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        send.disabled = true;
        post(step.dataset.stepId, Number(score.value)).then(function (answer) {
          const error = answer.body && answer.body.error;
          said.textContent = error ? error.message : t.serve_tally_sent;
          send.disabled = false;
        });
      });
      box.appendChild(form);
    });
  }

  function post(stepId, score) {
    return fetch("/_sillon/tally-simulate", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ stepId: stepId, score: score }),
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (body) {
        return { status: response.status, body: body };
      });
    });
  }

  function scan() {
    document.querySelectorAll("[data-tally-form]").forEach(offer);
  }
  new MutationObserver(scan).observe(document.body, { childList: true, subtree: true });
  scan();
})();
