// Video tracking: one code path over the standard media events (play, timeupdate, seeking,
// ratechange, pause, ended) and the page's (visibilitychange, pagehide). It keeps the speed
// under the course's cap, refuses seeking past the furthest point watched, and reports the media
// intervals watched to the server, which alone decides when the step is complete. It reports
// every `reportEvery` s while the video plays steadily, and at once on play, pause, seek, end and
// page hide, and when what the learner covered reaches the share the step completes at: a
// completion never waits for the next heartbeat. Reports made by a play, a pause or a seek also
// say so (`action`), for the server's xAPI statements.
"use strict";
(function () {
  const REPORT_EVERY = 15000; // ms of wall clock unless the server says (playback's reportEvery)
  const JUMP = 1.5; // a timeupdate further than this (media s) from the last one is a jump

  function track(media, options) {
    const cap = options.maxRate || 2;
    const every = options.reportEvery ? options.reportEvery * 1000 : REPORT_EVERY;
    const duration = options.duration || Infinity;
    const need = (options.completion || 0) * (options.duration || 0); // media s that complete
    let known = merge(options.watched || []); // what the server has: playback's, then reported
    let told = !need || covered(known) + 1e-6 >= need; // the server knows enough is covered
    let furthest = options.resumeAt || 0;
    let segment = null; // [start, end] being watched now
    let pending = []; // closed intervals not reported yet
    let last = media.currentTime || 0;
    let timer = null;
    let watching = false; // from a play until a pause, the end or the page hidden

    function close() {
      if (segment && segment[1] > segment[0]) pending.push([segment[0], segment[1]]);
      segment = null;
    }

    // Report the intervals watched since the last report (and the action behind it, if any).
    function report(action) {
      const spans = pending.slice();
      if (segment && segment[1] > segment[0]) {
        spans.push([segment[0], segment[1]]);
        segment = [segment[1], segment[1]];
      }
      pending = [];
      clearTimeout(timer);
      if (watching) timer = setTimeout(function () { report(); }, every); // next heartbeat
      if (!spans.length && !action) return;
      const intervals = spans.map(rounded);
      known = merge(known.concat(intervals));
      options.report(intervals, action || null);
    }

    // What the learner covered, as the server will count it once this page has reported.
    function coverage() {
      const spans = pending.concat(segment ? [segment] : []).map(rounded);
      return covered(merge(known.concat(spans)));
    }

    function clip(span) {
      return [Math.max(0, span[0]), Math.min(span[1], duration)];
    }

    function merge(spans) {
      const merged = [];
      spans.map(clip).filter(function (s) { return s[1] > s[0]; })
        .sort(function (a, b) { return a[0] - b[0]; })
        .forEach(function (s) {
          const top = merged[merged.length - 1];
          if (top && s[0] <= top[1]) top[1] = Math.max(top[1], s[1]);
          else merged.push([s[0], s[1]]);
        });
      return merged;
    }

    function covered(spans) {
      return spans.reduce(function (sum, s) { return sum + s[1] - s[0]; }, 0);
    }

    function at(verb) {
      return { action: verb, time: round(media.currentTime || 0) };
    }

    function round(value) {
      return Math.round(value * 1000) / 1000;
    }

    function rounded(span) {
      return [round(span[0]), round(span[1])];
    }

    function start() {
      watching = true;
      report(at("played")); // the first one starts the server's wall clock for this video
      segment = [media.currentTime, media.currentTime];
      last = media.currentTime;
    }

    media.addEventListener("play", start);

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
      if (!told && coverage() + 1e-6 >= need) {
        told = true; // once: the server then completes the step, or says when (completesIn)
        report();
      }
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
        report({ action: "seeked", timeFrom: round(seekFrom), timeTo: round(media.currentTime) });
      }
      seekFrom = null;
      resuming = false;
      if (!media.paused) segment = [media.currentTime, media.currentTime];
    });

    media.addEventListener("ratechange", function () {
      if (media.playbackRate > cap) media.playbackRate = cap;
      if (media.defaultPlaybackRate > cap) media.defaultPlaybackRate = cap;
    });

    // A pause, the end (which fires "pause" first) or the page hidden or left: what was watched,
    // once. A page hidden while playing is a pause too; leaving fires both visibilitychange and
    // pagehide, and the second finds nothing more to report.
    function stop() {
      if (segment && !media.seeking && media.currentTime - segment[1] <= JUMP) {
        segment[1] = Math.max(segment[1], media.currentTime);
      }
      close();
      const paused = watching;
      watching = false;
      report(paused ? at("paused") : null);
    }

    media.addEventListener("pause", stop);
    media.addEventListener("ended", stop);
    window.addEventListener("pagehide", stop);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") stop();
      else if (!media.paused && !watching) start(); // back to a video that played on
    });

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
