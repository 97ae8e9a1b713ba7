// Lexical search over window.KB_INDEX (written by search-index.js). Results are built with textContent
// only, so indexed text can never become markup.
(function () {
  "use strict";
  var data = window.KB_INDEX || { docs: [] };
  var docs = data.docs;
  var WORD = /[\p{L}\p{N}@]+/gu;
  function tokens(text) { return (String(text).toLowerCase().match(WORD) || []); }

  // Inverted index: token -> {doc number: weight}; label tokens weigh three times body tokens.
  var postings = new Map();
  docs.forEach(function (d, i) {
    [[d[2], 3], [d[4], 1], [d[0], 2]].forEach(function (pair) {
      tokens(pair[0]).forEach(function (t) {
        var m = postings.get(t);
        if (!m) { m = new Map(); postings.set(t, m); }
        m.set(i, (m.get(i) || 0) + pair[1]);
      });
    });
  });
  var vocab = Array.from(postings.keys());

  function termScores(term) {
    // Exact token, plus prefix matches for terms of 3+ characters, weighted by inverse document frequency.
    var out = new Map();
    var keys = term.length >= 3 ? vocab.filter(function (v) { return v.startsWith(term); }) : (postings.has(term) ? [term] : []);
    keys.forEach(function (k) {
      var m = postings.get(k);
      var idf = Math.log(1 + docs.length / m.size) * (k === term ? 1 : 0.7);
      m.forEach(function (w, i) { out.set(i, Math.max(out.get(i) || 0, w * idf)); });
    });
    return out;
  }

  function search(query, kind) {
    var terms = Array.from(new Set(tokens(query)));
    if (!terms.length) { return []; }
    var total = new Map(), hits = new Map();
    terms.forEach(function (t) {
      termScores(t).forEach(function (s, i) {
        total.set(i, (total.get(i) || 0) + s);
        hits.set(i, (hits.get(i) || 0) + 1);
      });
    });
    var ranked = Array.from(total.keys()).filter(function (i) { return !kind || docs[i][1] === kind; });
    ranked.sort(function (a, b) {
      return (hits.get(b) - hits.get(a)) || (total.get(b) - total.get(a)) || (a - b);
    });
    return ranked.slice(0, 50).map(function (i) { return { doc: docs[i], matched: hits.get(i), of: terms.length }; });
  }

  function render(query, kind) {
    var list = document.getElementById("results");
    var count = document.getElementById("count");
    if (!list) { return; }
    while (list.firstChild) { list.removeChild(list.firstChild); }
    var results = search(query, kind);
    count.textContent = query ? results.length + (results.length === 50 ? "+" : "") + " results for \u201c" + query + "\u201d" : "";
    results.forEach(function (r) {
      var d = r.doc;
      var li = document.createElement("li");
      var tag = document.createElement("span");
      tag.className = "kind kind-" + d[1];
      tag.textContent = d[1].replace("_", " ");
      var a = document.createElement("a");
      a.href = d[3];
      a.className = "hit";
      a.textContent = d[2];
      var snip = document.createElement("div");
      snip.className = "snippet";
      snip.textContent = d[4].slice(0, 240);
      li.appendChild(tag);
      li.appendChild(document.createTextNode(" "));
      li.appendChild(a);
      li.appendChild(snip);
      list.appendChild(li);
    });
  }

  var params = new URLSearchParams(window.location.search);
  var box = document.getElementById("q");
  var kindBox = document.getElementById("kind");
  if (box) {
    box.value = params.get("q") || "";
    var rerun = function () { render(box.value, kindBox ? kindBox.value : ""); };
    box.addEventListener("input", rerun);
    if (kindBox) { kindBox.addEventListener("change", rerun); }
    rerun();
    box.focus();
  }
  window.kbSearch = search;
})();
