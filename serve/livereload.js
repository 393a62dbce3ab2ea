// Injected by `python build.py serve` only: reload after a good build, show a failed one.
"use strict";
(function () {
  let seen = null;
  let banner = null;

  function showProblems(lines) {
    if (!banner) {
      banner = document.createElement("pre");
      banner.id = "sillon-build-errors";
      Object.assign(banner.style, {
        position: "fixed", left: "0", right: "0", bottom: "0", margin: "0", zIndex: "1000",
        maxHeight: "40vh", overflow: "auto", padding: "1rem", background: "#3b0d0d",
        color: "#ffe9e9", font: "13px/1.5 ui-monospace, monospace", whiteSpace: "pre-wrap",
      });
      document.body.appendChild(banner);
    }
    banner.textContent = "Build failed: still showing the last good site.\n\n" + lines.join("\n");
  }

  function connect() {
    const source = new EventSource("/_sillon/events");
    source.addEventListener("build", function (event) {
      if (seen !== null && seen !== event.data) {
        window.location.reload();
      }
      seen = event.data;
    });
    source.addEventListener("problems", function (event) {
      const lines = JSON.parse(event.data);
      if (lines.length) {
        showProblems(lines);
      } else if (banner) {
        banner.remove();
        banner = null;
      }
    });
    source.onerror = function () {
      source.close();
      setTimeout(connect, 1000);
    };
  }
  connect();
})();
