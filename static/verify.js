// The verify page: checks a certificate (an Open Badges 3.0 VC-JWT, RS256) in the browser.
// 1. The issuer must be this site's (/.well-known/issuer.json) and the key one it publishes
//    (/.well-known/jwks.json, by the header's kid): else "unknown issuer".
// 2. WebCrypto checks the RS256 signature over the exact bytes received: else "tampered".
// 3. The W3C Bitstring Status List named by the credential (itself signed, checked the same
//    way) is read for the credential's bit: set means "revoked".
// The credential comes from the address (#<credential>, or #id=<id> fetched from the API) or
// is pasted. Everything shown is set as text, never as HTML.
"use strict";
(function () {
  const box = document.getElementById("verify");
  if (!box) return;
  const words = box.dataset;
  const lang = document.body.dataset.lang || "fr";
  const api = document.body.dataset.api || "/api";
  const day = new Intl.DateTimeFormat(lang, { dateStyle: "long" });
  const $ = function (id) { return document.getElementById(id); };
  const encoder = new TextEncoder();

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (all, name) {
      return name in values ? String(values[name]) : all;
    });
  }

  function bytes(text) { // base64url, no padding
    const plain = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
    return Uint8Array.from(plain, function (c) { return c.charCodeAt(0); });
  }

  function decoded(compact) {
    const parts = compact.split(".");
    if (parts.length !== 3 || !parts.every(function (p) { return /^[A-Za-z0-9_-]+$/.test(p); })) {
      throw new Error("not a compact JWS");
    }
    const text = new TextDecoder("utf-8", { fatal: true });
    return {
      header: JSON.parse(text.decode(bytes(parts[0]))),
      payload: JSON.parse(text.decode(bytes(parts[1]))),
      signed: encoder.encode(parts[0] + "." + parts[1]),
      signature: bytes(parts[2]),
    };
  }

  function json(url) {
    return fetch(url, { credentials: "omit", cache: "no-store" }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(url + ": " + r.status);
        return body;
      });
    });
  }

  class Verdict extends Error {
    constructor(kind) { super(kind); this.kind = kind; }
  }

  // The payload when the signature is this site's; a Verdict otherwise.
  async function checked(compact, trust) {
    let token;
    try { token = decoded(compact); } catch (e) { throw new Verdict("tampered"); }
    if (token.header.alg !== "RS256") throw new Verdict("tampered");
    const kid = String(token.header.kid || "");
    const jwk = trust.keys.find(function (k) { return kid === trust.keysUrl + "#" + k.kid; });
    if (!jwk || token.payload.iss !== trust.issuer.id) throw new Verdict("unknown");
    const key = await crypto.subtle.importKey(
      "jwk", { kty: jwk.kty, n: jwk.n, e: jwk.e, alg: "RS256", ext: true },
      { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["verify"]);
    const good = await crypto.subtle.verify("RSASSA-PKCS1-v1_5", key, token.signature, token.signed);
    if (!good) throw new Verdict("tampered");
    return token.payload;
  }

  async function revoked(payload, trust) {
    const status = payload.credentialStatus || {};
    const listUrl = new URL(status.statusListCredential, location.href);
    if (listUrl.origin !== location.origin) throw new Error("a status list elsewhere");
    const response = await fetch(listUrl, { credentials: "omit", cache: "no-store" });
    const text = await response.text();
    if (!response.ok) throw new Error("status list " + response.status);
    const list = await checked(text.trim(), trust);
    const subject = list.credentialSubject || {};
    if (subject.statusPurpose !== "revocation" || !String(subject.encodedList).startsWith("u")) {
      throw new Error("not a revocation list");
    }
    const zipped = new Blob([bytes(subject.encodedList.slice(1))]);
    const plain = new Uint8Array(
      await new Response(zipped.stream().pipeThrough(new DecompressionStream("gzip"))).arrayBuffer());
    const index = Number(status.statusListIndex);
    if (!Number.isInteger(index) || index < 0 || index >= plain.length * 8) throw new Error("index");
    return ((plain[index >> 3] >> (7 - (index & 7))) & 1) === 1;
  }

  function percent(score) { return score === null || score === undefined ? "–" : Math.round(score * 100); }

  function dayOf(iso) { return iso ? day.format(new Date(iso)) : "–"; }

  function duration(seconds) {
    const minutes = Math.round(seconds / 60);
    if (minutes < 1) return "< 1 min";
    return minutes >= 60 ? Math.floor(minutes / 60) + " h " + String(minutes % 60).padStart(2, "0") : minutes + " min";
  }

  function step(entry) {
    const li = document.createElement("li");
    const title = document.createElement("strong");
    title.textContent = entry.name;
    const values = {
      day: dayOf(entry.completedAt), share: percent(entry.watchedShare), rate: entry.playbackMaxRate,
      first: percent(entry.firstScore), final: percent(entry.finalScore), attempts: entry.attempts,
    };
    const template = { video: words.verifyVideo, quiz: words.verifyQuiz }[entry.genre] || words.verifyLesson;
    li.append(title, " : ".slice(lang === "fr" ? 0 : 1), fill(template, values));
    return li;
  }

  let holder = null; // the email identifier, for the comparison form

  function show(kind, payload, statusKnown) {
    const names = { valid: "Valid", revoked: "Revoked", tampered: "Tampered", unknown: "Unknown", missing: "Missing" };
    $("verify-result").hidden = false;
    $("verify-result").dataset.verdict = kind;
    $("verify-verdict").textContent = words["verify" + names[kind]];
    const issuer = payload && payload.issuer ? payload.issuer.name : "";
    $("verify-note").textContent = fill(words["verify" + names[kind] + "Note"] || "", { issuer: issuer });
    $("verify-status-note").hidden = statusKnown !== false;
    const trusted = kind === "valid" || kind === "revoked";
    $("verify-facts").hidden = !trusted;
    $("verify-details").hidden = !trusted;
    holder = null;
    if (!trusted) return;
    const subject = payload.credentialSubject;
    const ids = subject.identifier || [];
    const name = ids.find(function (i) { return i.identityType === "name"; });
    holder = ids.find(function (i) { return i.identityType === "emailAddress" && i.hashed; }) || null;
    $("verify-holder").textContent = name ? name.identityHash : "–";
    $("verify-course").textContent = subject.achievement.name;
    $("verify-issuer").textContent = issuer;
    $("verify-issued").textContent = dayOf(payload.validFrom);
    const evidence = payload.evidence || [];
    const course = evidence.find(function (e) { return e.genre === "course"; }) || {};
    $("verify-total").textContent = fill(words.verifyTotalText, {
      steps: course.steps, time: duration(course.seconds || 0), rate: course.playbackMaxRate,
    });
    $("verify-steps").replaceChildren(...evidence.filter(function (e) { return e.genre !== "course"; }).map(step));
    $("verify-raw").textContent = JSON.stringify(payload, null, 2);
    $("verify-email-answer").textContent = "";
  }

  async function verify(compact) {
    $("verify-result").hidden = false;
    $("verify-result").dataset.verdict = "checking";
    $("verify-verdict").textContent = words.verifyChecking;
    $("verify-note").textContent = "";
    $("verify-facts").hidden = $("verify-details").hidden = true;
    const keysUrl = location.origin + "/.well-known/jwks.json";
    let trust;
    try {
      const found = await Promise.all([json(location.origin + "/.well-known/issuer.json"), json(keysUrl)]);
      trust = { issuer: found[0], keys: found[1].keys || [], keysUrl: keysUrl };
    } catch (e) {
      show("unknown", null);
      return;
    }
    let payload;
    try {
      payload = await checked(compact.trim(), trust);
    } catch (e) {
      show(e instanceof Verdict ? e.kind : "tampered", null);
      return;
    }
    try {
      show((await revoked(payload, trust)) ? "revoked" : "valid", payload, true);
    } catch (e) {
      show("valid", payload, false);
    }
  }

  async function fromAddress(text) {
    const value = text.replace(/^#/, "").trim();
    const id = /^id=([0-9a-f-]{36})$/.exec(value);
    if (id) {
      const response = await fetch(api + "/certificates/" + id[1], { credentials: "omit" });
      const found = await response.json(); // read either way: an unread answer stays open
      if (!response.ok) { show("missing", null); return; }
      $("verify-input").value = found.credential;
      return verify(found.credential);
    }
    if (value) {
      $("verify-input").value = value;
      return verify(value);
    }
  }

  $("verify-form").addEventListener("submit", function (event) {
    event.preventDefault();
    const value = $("verify-input").value.trim();
    const hash = value.indexOf("#");
    if (hash >= 0) fromAddress(value.slice(hash)); // a pasted verify link
    else verify(value);
  });

  $("verify-email-form").addEventListener("submit", async function (event) {
    event.preventDefault();
    if (!holder) return;
    const email = $("verify-email").value.trim().toLowerCase();
    const digest = await crypto.subtle.digest("SHA-256", encoder.encode(email + (holder.salt || "")));
    const hex = Array.from(new Uint8Array(digest), function (b) { return b.toString(16).padStart(2, "0"); }).join("");
    $("verify-email-answer").textContent = holder.identityHash === "sha256$" + hex ? words.verifyEmailYes : words.verifyEmailNo;
  });

  window.addEventListener("hashchange", function () { fromAddress(location.hash); });
  fromAddress(location.hash);
})();
