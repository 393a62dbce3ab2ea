// The durable event queue: every learner event is stored in localStorage before it is sent,
// retried with backoff until the server answers, and flushed on page hide. Events carry their
// own eventId, so a resend after a lost answer or a closed tab changes nothing on the server.
// A saving (a note: PUT, with a key) replaces the one of the same key still queued: only the
// latest text is sent, and sending it again is harmless (it says the whole note).
"use strict";
(function () {
  const KEY = "sillon.queue.v1";
  const MAX_DELAY = 30000;
  const listeners = [];
  let timer = null;
  let sending = false;

  function load() {
    try {
      const items = JSON.parse(localStorage.getItem(KEY) || "[]");
      return Array.isArray(items) ? items : [];
    } catch (error) {
      return [];
    }
  }

  function save(items) {
    localStorage.setItem(KEY, JSON.stringify(items));
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "e-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
  }

  // Add an event (a POST: its body gets an eventId) or a saving (`options.method` PUT and
  // `options.key`), and try to send it now.
  function push(url, body, options) {
    const method = (options && options.method) || "POST";
    const key = (options && options.key) || null;
    const item = { id: uuid(), url: url, method: method, key: key, body: Object.assign({}, body), tries: 0, next: 0 };
    if (method === "POST") item.body.eventId = item.id;
    const items = load().filter(function (other) { return !key || other.key !== key; });
    items.push(item);
    save(items);
    flush();
    return item.id;
  }

  // The body of the saving of `key` not sent yet, or null.
  function queued(key) {
    const found = load().filter(function (item) { return item.key === key; }).pop();
    return found ? found.body : null;
  }

  function remove(id) {
    save(load().filter(function (item) { return item.id !== id; }));
  }

  function later(item) {
    const items = load();
    const stored = items.find(function (other) { return other.id === item.id; });
    if (!stored) return;
    stored.tries += 1;
    stored.next = Date.now() + Math.min(MAX_DELAY, 1000 * Math.pow(2, stored.tries - 1));
    save(items);
  }

  function schedule() {
    clearTimeout(timer);
    const items = load();
    if (!items.length) return;
    const wait = Math.max(200, Math.min.apply(null, items.map(function (i) { return i.next; })) - Date.now());
    timer = setTimeout(flush, wait);
  }

  function deliver(item, status, answer) {
    listeners.forEach(function (listener) { listener(item, status, answer); });
  }

  // Send due events one at a time, in order. 2xx and 4xx answers are final (a 4xx is the server
  // refusing the event, and sending it again would not change that); network errors and 5xx
  // are retried later.
  function flush() {
    if (sending) return;
    const due = load().filter(function (item) { return item.next <= Date.now(); });
    if (!due.length) return schedule();
    sending = true;
    const item = due[0];
    fetch(item.url, {
      method: item.method || "POST",
      credentials: "same-origin",
      keepalive: true,
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(item.body),
    })
      .then(function (response) {
        return response.json().catch(function () { return null; }).then(function (answer) {
          // A quiz's cooldown (429 quiz_cooldown) is final too: the player shows the wait.
          const paced = answer && answer.error && answer.error.code === "quiz_cooldown";
          if (response.status >= 500 || (response.status === 429 && !paced) || response.status === 408) {
            later(item);
          } else {
            remove(item.id);
            deliver(item, response.status, answer);
          }
        });
      })
      .catch(function () { later(item); })
      .then(function () {
        sending = false;
        const next = load().filter(function (i) { return i.next <= Date.now(); });
        if (next.length) flush(); else schedule();
      });
  }

  // On page hide, hand everything still queued to the browser; the next visit resends what
  // was not confirmed (harmless: same eventIds).
  function beacon() {
    if (!navigator.sendBeacon) return;
    load().forEach(function (item) {
      if (item.method && item.method !== "POST") {  // a beacon is a POST: the page's last fetch
        fetch(item.url, {
          method: item.method, credentials: "same-origin", keepalive: true,
          headers: { "Content-Type": "application/json" }, body: JSON.stringify(item.body),
        }).catch(function () {});
        return;
      }
      const blob = new Blob([JSON.stringify(item.body)], { type: "application/json" });
      navigator.sendBeacon(item.url, blob);
    });
  }

  window.addEventListener("pagehide", beacon);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") beacon();
  });
  window.addEventListener("online", flush);

  window.SillonQueue = {
    push: push,
    flush: flush,
    pending: function () { return load().length; },
    queued: queued,
    onAnswer: function (listener) { listeners.push(listener); },
  };
  flush();
})();
