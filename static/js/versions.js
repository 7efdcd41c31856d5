// Versions ranked: with other versions chosen beside the candidate (five in all at most),
// the rating form rates each one
// against the reference (one request each, through the same page route as a single rating),
// then ranks them by rating and distance. Each keeps its own result; one player plays any.
(function () {
  "use strict";

  var MAX_VERSIONS = 5;

  function csrfHeaders() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}"); } catch (e) { return {}; }
  }

  function say(text) {
    var label = document.getElementById("progress-text");
    var box = document.getElementById("progress");
    if (box) { box.classList.add("htmx-request"); }
    if (label) { label.textContent = text; }
  }

  function done() {
    var box = document.getElementById("progress");
    if (box) { box.classList.remove("htmx-request"); }
  }

  // Your master and the other versions, in the order chosen (the player's candidateIndex).
  function candidateFiles() {
    var one = document.querySelector("#rate-form input[type=file][name=candidate]");
    var more = document.querySelector("#rate-form input[type=file][data-versions]");
    var files = one && one.files && one.files[0] ? [one.files[0]] : [];
    return files.concat(more && more.files ? Array.prototype.slice.call(more.files) : []);
  }
  window.MasteringVersions = { candidateFiles: candidateFiles };

  function rateOne(form, file, prefix) {
    var data = new FormData(form);
    data.set("candidate", file, file.name);
    var rateForm = window.MasteringRateForm;
    var stop = function () {};
    if (rateForm) {  // the analysis's stages, as for a single rating
      var id = rateForm.newProgressId();
      data.set("progress_id", id);
      stop = rateForm.watchProgress(id, prefix);
    }
    var headers = Object.assign({ "HX-Request": "true" }, csrfHeaders());
    return fetch(form.getAttribute("action") || "/", {
      method: "POST", body: data, headers: headers, credentials: "same-origin",
    }).finally(stop).then(function (response) {
      return response.text().then(function (html) {
        var holder = document.createElement("div");
        holder.innerHTML = html;
        return { ok: response.ok, holder: holder };
      });
    }).catch(function () {
      var holder = document.createElement("div");
      holder.innerHTML = '<div class="error" role="alert"></div>';
      holder.firstChild.textContent = "The upload failed: the server could not be reached.";
      return { ok: false, holder: holder };
    });
  }

  function rankKey(entry) {
    if (!entry.ok) { return [Infinity, Infinity]; }
    var article = entry.holder.querySelector("article.rating");
    var distance = article.querySelector("[data-distance-db]");
    return [Number(article.dataset.rating), distance ? Number(distance.dataset.distanceDb) : Infinity];
  }

  function compare(a, b) {
    var ka = rankKey(a), kb = rankKey(b);
    return ka[0] - kb[0] || ka[1] - kb[1] || a.index - b.index;
  }

  // Take each version's player settings out of its result, keep one shared player on top.
  function render(result, entries) {
    result.innerHTML = "";
    var heading = document.createElement("h2");
    heading.textContent = "Your versions, closest first";
    var list = document.createElement("ol");
    list.className = "versions";
    var player = null;
    entries.forEach(function (entry, rank) {
      var item = document.createElement("li");
      item.className = "version card";
      item.dataset.versionIndex = String(entry.index);
      item.dataset.rank = String(rank + 1);
      var title = document.createElement("h3");
      var key = rankKey(entry);
      title.textContent = "#" + (rank + 1) + " · " + entry.file.name + (entry.ok
        ? " · rating " + key[0] + (isFinite(key[1]) ? ", distance " + key[1].toFixed(2) + " dB" : "")
        : " · not rated");
      item.appendChild(title);
      var section = entry.holder.querySelector("#player");
      if (section) {
        section.remove();
        item.dataset.player = JSON.stringify({
          levelOffsetDb: section.dataset.levelOffsetDb, offsetS: section.dataset.offsetS,
          amount: section.dataset.amount, moves: section.querySelector("[data-moves]").textContent,
        });
        if (!player) { player = section; }
        var listen = document.createElement("button");
        listen.type = "button";
        listen.className = "listen";
        listen.textContent = "Listen to " + entry.file.name;
        item.appendChild(listen);
      }
      var details = document.createElement("details");
      details.open = rank === 0;
      var summary = document.createElement("summary");
      summary.textContent = entry.ok ? "Its rating, moves and spectra" : "Why it was not rated";
      details.appendChild(summary);
      while (entry.holder.firstChild) { details.appendChild(entry.holder.firstChild); }
      item.appendChild(details);
      list.appendChild(item);
    });
    result.appendChild(heading);
    if (player) {
      var first = list.querySelector("li[data-player]");
      player.dataset.candidateIndex = first.dataset.versionIndex;
      player.dataset.version = first.dataset.rank;
      result.appendChild(player);
    }
    result.appendChild(list);
    if (window.MasteringRateForm) { window.MasteringRateForm.initCharts(list); }  // spectra
    if (player && window.MasteringPlayer) { window.MasteringPlayer.reload(player); }
  }

  function listenTo(item) {
    var section = document.getElementById("player");
    if (!section || !item.dataset.player || !window.MasteringPlayer) { return; }
    var settings = JSON.parse(item.dataset.player);
    section.dataset.levelOffsetDb = settings.levelOffsetDb;
    section.dataset.offsetS = settings.offsetS;
    section.dataset.amount = settings.amount;
    section.querySelector("[data-moves]").textContent = settings.moves;
    section.dataset.candidateIndex = item.dataset.versionIndex;
    section.dataset.version = item.dataset.rank;
    window.MasteringPlayer.reload(section);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest(".versions button.listen") : null;
    if (button) { listenTo(button.closest("li")); }
  });

  // Runs before rate.js's check (capture): several candidates take this path instead of htmx.
  document.addEventListener("htmx:confirm", function (event) {
    var form = event.target;
    if (!form || form.id !== "rate-form") { return; }
    var more = form.querySelector("input[type=file][data-versions]");
    if (!more || !more.files || !more.files.length) { return; }
    event.preventDefault();
    var files = candidateFiles();
    if (more.files.length > MAX_VERSIONS - 1) {
      var box = document.querySelector("[data-file-error=versions]");
      box.hidden = false;
      box.textContent = "Choose at most " + (MAX_VERSIONS - 1) + " other versions; you chose " +
        more.files.length + ".";
      return;
    }
    var problems = Array.prototype.filter.call(form.querySelectorAll("input[type=file]"), function (each) {
      return window.MasteringRateForm && window.MasteringRateForm.checkInput(each);
    });
    if (problems.length || !form.reportValidity()) { return; }
    var result = document.getElementById("result");
    var entries = [];
    files.reduce(function (chain, file, index) {
      return chain.then(function () {
        var prefix = "Version " + (index + 1) + " of " + files.length + " (" + file.name + "): ";
        say(prefix + "uploading…");
        return rateOne(form, file, prefix).then(function (entry) {
          entry.file = file;
          entry.index = index;
          entries.push(entry);
        });
      });
    }, Promise.resolve()).then(function () {
      done();
      render(result, entries.slice().sort(compare));
    });
  }, true);
})();
