// The certificate card of /me/: shown once the course is finished (GET /api/certificate
// answers 409 before), with its verify page, its PDF (where the server makes PDFs), LinkedIn's
// "add to profile" link and a copy of the signed credential. Links are set from the API's
// answer as attributes, never as HTML.
"use strict";
(function () {
  const card = document.getElementById("certificate");
  if (!card) return;
  const api = document.body.dataset.api || "/api";
  let credential = "";

  fetch(api + "/certificate", { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (response) {
      // The body is read either way (an answer left unread keeps its request open).
      return response.json().then(function (body) { return response.ok ? body : null; });
    })
    .then(function (mine) {
      if (!mine) return;
      credential = mine.credential;
      document.getElementById("certificate-verify").href = mine.verifyUrl;
      document.getElementById("certificate-linkedin").href = mine.linkedinUrl;
      const pdf = document.getElementById("certificate-pdf");
      pdf.hidden = !mine.pdfUrl;
      if (mine.pdfUrl) pdf.href = mine.pdfUrl;
      document.getElementById("certificate-revoked").hidden = !mine.revokedAt;
      card.hidden = false;
      if (location.hash === "#certificate") card.scrollIntoView();
    })
    .catch(function () { card.hidden = true; });

  document.getElementById("certificate-copy").addEventListener("click", function () {
    navigator.clipboard.writeText(credential).then(function () {
      document.getElementById("certificate-status").textContent = card.dataset.copied;
    });
  });
})();
