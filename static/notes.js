// The notebook beside the player: the learner's own note on the open step, saved as they type
// through the durable queue (a PUT that replaces the one still queued for that step), so a
// note survives a lost network or a closed tab. The note is only ever a textarea's value here:
// no text of a note becomes HTML. The player says which step is open ("sillon:step").
"use strict";
(function () {
  const pane = document.getElementById("notes");
  const queue = window.SillonQueue;
  if (!pane || !queue) return;
  const API = document.body.dataset.api || "/api";
  const area = document.getElementById("notes-text");
  const state = document.getElementById("notes-status");
  const T = state.dataset;
  const SAVE_AFTER = 800; // ms of quiet typing before a save is queued
  let notes = null; // step id -> text, as the server has it
  let step = null;
  let timer = 0;

  function key(id) { return "note:" + id; }

  function url(id) { return API + "/notes/" + encodeURIComponent(id); }

  function fetched() {
    if (notes) return Promise.resolve(notes);
    return fetch(API + "/notes", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { notes: [] }; })
      .catch(function () { return { notes: [] }; })
      .then(function (body) {
        notes = {};
        body.notes.forEach(function (note) { notes[note.stepId] = note.text; });
        return notes;
      });
  }

  // The note of a step: the one still queued (typed, not yet sent), else the server's.
  function noteOf(id) {
    const waiting = queue.queued(key(id));
    return waiting ? waiting.text : notes[id] || "";
  }

  function say(text) { state.textContent = text; }

  function saveNow() {
    clearTimeout(timer);
    timer = 0;
    if (!step || area.value === noteOf(step)) return;
    queue.push(url(step), { text: area.value }, { method: "PUT", key: key(step) });
    say(T.saving);
  }

  function open(id) {
    if (timer) saveNow(); // what was typed on the step before goes first
    step = id;
    fetched().then(function () {
      if (step !== id) return;
      area.value = noteOf(id);
      say("");
      pane.hidden = false;
    });
  }

  area.addEventListener("input", function () {
    clearTimeout(timer);
    say("");
    timer = setTimeout(saveNow, SAVE_AFTER);
  });
  area.addEventListener("blur", function () { if (timer) saveNow(); });
  window.addEventListener("pagehide", function () { if (timer) saveNow(); });

  queue.onAnswer(function (item, status, answer) {
    if (!item.key || item.key.indexOf("note:") !== 0) return;
    const id = item.key.slice(5);
    if (status >= 200 && status < 300) {
      if (notes) notes[id] = item.body.text;
      if (id === step && !timer) say(T.saved);
    } else if (id === step) {  // refused: too long (the server's 20 KB), or signed out
      const code = answer && answer.error && answer.error.code;
      say(code === "note_too_long" ? T.tooLong : T.failed);
    }
  });

  document.addEventListener("sillon:step", function (event) { open(event.detail.id); });
  // The player may have announced the open step before this script ran: open it now.
  if (document.body.dataset.openStep) open(document.body.dataset.openStep);
})();
