// Handout search: Pagefind's general index, merged with the index of every module the learner
// may open (the gate answers 403 for the others, exactly as for their pages).
"use strict";
(function () {
  const box = document.querySelector("[data-search]");
  if (!box) return;
  const form = box.querySelector("[data-search-form]");
  const input = form.querySelector("input[type='search']");
  const status = box.querySelector("[data-search-status]");
  const list = box.querySelector("[data-search-results]");
  const strings = box.dataset;
  const LIMIT = 20; // results shown; the status counts them all
  const PAUSE = 250; // ms of typing pause before searching
  let engine = null; // Promise of { pagefind, locked } once the indexes are loaded
  let ticket = 0; // the latest query wins: older answers are dropped
  let timer = 0;

  function say(template, values) {
    return template.replace(/\{(\w+)\}/g, function (whole, key) {
      return key in values ? String(values[key]) : whole;
    });
  }

  function allowed(url) {
    return fetch(url + "pagefind-entry.json", { credentials: "same-origin" })
      .then(function (response) { return response.ok; })
      .catch(function () { return false; });
  }

  async function open() {
    const pagefind = await import(strings.searchRoot + "pagefind.js");
    await pagefind.options({ excerptLength: 24 });
    const urls = (strings.searchIndexes || "").split(" ").filter(Boolean);
    const verdicts = await Promise.all(urls.map(allowed));
    let locked = 0;
    for (let i = 0; i < urls.length; i += 1) {
      if (verdicts[i]) await pagefind.mergeIndex(urls[i]);
      else locked += 1;
    }
    await pagefind.init();
    return { pagefind: pagefind, locked: locked };
  }

  function load() {
    if (!engine) {
      engine = open();
      engine.catch(function () { engine = null; }); // try again on the next query
    }
    return engine;
  }

  // Pagefind's excerpt is text with <mark> around the words found: keep exactly that.
  function excerpt(html) {
    const target = document.createElement("p");
    target.className = "kms-search-excerpt";
    const parsed = new DOMParser().parseFromString(html, "text/html").body;
    parsed.childNodes.forEach(function (node) {
      if (node.nodeName === "MARK") {
        const mark = document.createElement("mark");
        mark.textContent = node.textContent;
        target.appendChild(mark);
      } else {
        target.appendChild(document.createTextNode(node.textContent));
      }
    });
    return target;
  }

  function item(data) {
    const li = document.createElement("li");
    li.className = "kms-search-result";
    const link = document.createElement("a");
    link.href = data.url;
    link.textContent = (data.meta && data.meta.title) || data.url;
    li.appendChild(link);
    li.appendChild(excerpt(data.excerpt || ""));
    return li;
  }

  function show(query, total, found, locked) {
    const template = total === 0 ? strings.tNone : total === 1 ? strings.tOne : strings.tMany;
    let message = say(template, { n: total, q: query });
    if (locked) message += " " + strings.tLocked;
    status.textContent = message;
    list.replaceChildren.apply(list, found.map(item));
    list.hidden = found.length === 0;
    box.dataset.searched = query; // what the status and the list now answer
  }

  function clear() {
    ticket += 1;
    status.textContent = "";
    list.replaceChildren();
    list.hidden = true;
    delete box.dataset.searched;
  }

  async function search(raw) {
    const query = raw.trim();
    if (!query) return clear();
    const mine = (ticket += 1);
    status.textContent = strings.tLoading;
    try {
      const loaded = await load();
      const answer = await loaded.pagefind.search(query);
      const found = await Promise.all(
        answer.results.slice(0, LIMIT).map(function (result) { return result.data(); })
      );
      if (mine === ticket) show(query, answer.results.length, found, loaded.locked);
    } catch (error) {
      if (mine !== ticket) return;
      status.textContent = strings.tUnavailable;
      list.hidden = true;
      box.dataset.searched = query;
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    window.clearTimeout(timer);
    search(input.value);
  });
  input.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(function () { search(input.value); }, PAUSE);
  });
  input.addEventListener("focus", function () { load().catch(function () {}); }, { once: true });
  box.hidden = false; // without script there is no search: the box stays hidden
})();
