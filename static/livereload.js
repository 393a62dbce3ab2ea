// Serve mode only: reload the page when a new build is ready (never after a failed one).
"use strict";
(function () {
  let seen = null;
  function connect() {
    const source = new EventSource("/_sillon/events");
    source.addEventListener("build", function (event) {
      if (seen !== null && seen !== event.data) {
        window.location.reload();
      }
      seen = event.data;
    });
    source.onerror = function () {
      source.close();
      setTimeout(connect, 1000);
    };
  }
  connect();
})();
