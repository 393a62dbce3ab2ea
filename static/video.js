// Video tracking: one code path over the standard media events (play, timeupdate, seeking,
// ratechange, pause, ended). It keeps the speed under the course's cap, refuses seeking past
// the furthest point watched, and reports the media intervals watched to the server, which
// alone decides when the step is complete. Reports made by a play, a pause or a seek also say
// so (`action`), for the server's xAPI statements.
"use strict";
(function () {
  const REPORT_EVERY = 4000; // ms of wall clock unless the server says (playback's reportEvery)
  const JUMP = 1.5; // a timeupdate further than this (media s) from the last one is a jump

  function track(media, options) {
    const cap = options.maxRate || 2;
    const every = options.reportEvery ? options.reportEvery * 1000 : REPORT_EVERY;
    let furthest = options.resumeAt || 0;
    let segment = null; // [start, end] being watched now
    let pending = []; // closed intervals not reported yet
    let last = media.currentTime || 0;
    let timer = null;
    let started = false;

    function close() {
      if (segment && segment[1] > segment[0]) pending.push([segment[0], segment[1]]);
      segment = null;
    }

    function report(force, action) {
      const spans = pending.slice();
      if (segment && segment[1] > segment[0]) {
        spans.push([segment[0], segment[1]]);
        segment = [segment[1], segment[1]];
      }
      pending = [];
      if (!spans.length && !force && !action) return;
      const intervals = spans.map(function (s) { return [round(s[0]), round(s[1])]; });
      options.report(intervals, action || null);
    }

    function at(verb) {
      return { action: verb, time: round(media.currentTime || 0) };
    }

    function round(value) {
      return Math.round(value * 1000) / 1000;
    }

    media.addEventListener("play", function () {
      started = true;
      report(true, at("played")); // the first one starts the server's wall clock for this video
      segment = [media.currentTime, media.currentTime];
      last = media.currentTime;
      clearInterval(timer);
      timer = setInterval(function () { report(false); }, every);
    });

    media.addEventListener("timeupdate", function () {
      const now = media.currentTime;
      if (media.paused || media.seeking) return;
      if (segment && now >= last && now - last <= JUMP * Math.max(1, media.playbackRate)) {
        segment[1] = now;
      } else {
        close();
        segment = [now, now];
      }
      last = now;
      if (segment[0] <= furthest + 0.5) furthest = Math.max(furthest, now);
    });

    let seekFrom = null; // where the learner's seek started (null: the player's own resume)
    let resuming = false;
    media.addEventListener("seeking", function () {
      close();
      if (seekFrom === null && !resuming) seekFrom = last;
      if (media.currentTime > furthest + 0.5) {
        media.currentTime = furthest; // no skipping ahead: the server would not count it anyway
      }
      last = media.currentTime;
    });

    media.addEventListener("seeked", function () {
      last = media.currentTime;
      if (seekFrom !== null && Math.abs(seekFrom - media.currentTime) > 0.5) {
        report(false, { action: "seeked", timeFrom: round(seekFrom), timeTo: round(media.currentTime) });
      }
      seekFrom = null;
      resuming = false;
      if (!media.paused) segment = [media.currentTime, media.currentTime];
    });

    media.addEventListener("ratechange", function () {
      if (media.playbackRate > cap) media.playbackRate = cap;
      if (media.defaultPlaybackRate > cap) media.defaultPlaybackRate = cap;
    });

    function stop(event) {
      if (segment && !media.seeking && media.currentTime - segment[1] <= JUMP) {
        segment[1] = Math.max(segment[1], media.currentTime);
      }
      close();
      clearInterval(timer);
      // An "ended" also fires "pause" first; a page left while playing is a pause too.
      const paused = event.type === "pause" || (event.type === "pagehide" && !media.paused);
      report(false, paused ? at("paused") : null);
    }

    media.addEventListener("pause", stop);
    media.addEventListener("ended", stop);
    window.addEventListener("pagehide", stop);

    if (options.resumeAt && options.resumeAt < (options.duration || Infinity) - 1) {
      const resume = function () { resuming = true; media.currentTime = options.resumeAt; };
      // A <video> knows its readyState; Stream's SDK player tells only by its events.
      if (media.readyState >= 1) resume(); else media.addEventListener("loadedmetadata", resume, { once: true });
    }

    return {
      setRate: function (rate) {
        media.playbackRate = Math.min(cap, rate);
      },
      furthest: function () { return furthest; },
    };
  }

  window.SillonVideo = { track: track };
})();
