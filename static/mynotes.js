// The learner's notebook page (/me/notes/): every note of theirs under its step's title, in
// path order, with "download as Markdown" (a file made here from the same notes), "download as
// PDF" (GET /api/notes.pdf, made by the server; where it makes none, the Worker, the browser's
// print instead) and "print or save as PDF" (the browser's own, with the print rules of
// sillon.css). A note is shown as
// text, never as HTML: what a learner typed cannot run here.
"use strict";
(function () {
  const box = document.getElementById("notebook");
  if (!box) return;
  const api = document.body.dataset.api || "/api";
  const list = document.getElementById("notebook-notes");
  const markdown = document.getElementById("notebook-markdown");
  const print = document.getElementById("notebook-print");
  const pdf = document.getElementById("notebook-pdf");
  let notes = [];

  function show(note) {
    const article = document.createElement("article");
    article.className = "notebook-note";
    article.dataset.stepId = note.stepId;
    const title = document.createElement("h2");
    title.textContent = note.title || note.stepId;
    const text = document.createElement("pre");
    text.className = "note-text";
    text.textContent = note.text;
    article.append(title, text);
    list.appendChild(article);
  }

  // The notebook as one Markdown file: the course's title, then each note under its step's.
  function asMarkdown() {
    const parts = ["# " + box.dataset.course, ""];
    notes.forEach(function (note) {
      parts.push("## " + (note.title || note.stepId), "", note.text.replace(/\s+$/, ""), "");
    });
    return parts.join("\n");
  }

  function download(blob, name) {
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
  }

  markdown.addEventListener("click", function () {
    download(new Blob([asMarkdown()], { type: "text/markdown;charset=utf-8" }), box.dataset.file);
  });
  pdf.addEventListener("click", function () {
    fetch(api + "/notes.pdf", { credentials: "same-origin" })
      .then(function (response) {
        return response.blob().then(function (blob) {
          if (!response.ok) throw new Error(String(response.status));
          return blob;
        });
      })
      .then(function (blob) { download(blob, box.dataset.file.replace(/\.md$/, ".pdf")); })
      .catch(function () { window.print(); }); // no PDFs made here (the Worker): print
  });
  print.addEventListener("click", function () { window.print(); });

  fetch(api + "/notes", { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (response) {
      if (response.status === 401) return null; // app.js shows the signed-out panel
      if (!response.ok) throw new Error(String(response.status));
      return response.json();
    })
    .then(function (body) {
      if (!body) return;
      notes = body.notes;
      notes.forEach(show);
      document.getElementById("notebook-empty").hidden = notes.length > 0;
      markdown.disabled = print.disabled = pdf.disabled = notes.length === 0;
    })
    .catch(function () {
      document.getElementById("notebook-status").textContent = box.dataset.failed;
    });
})();
