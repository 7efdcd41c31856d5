// The rating page: drag and drop, upload progress, errors beside each file, spectrum plots (uPlot).
(function () {
  "use strict";

  function byId(id) { return document.getElementById(id); }

  function setProgress(percent, text) {
    var bar = byId("upload-progress");
    var label = byId("progress-text");
    if (bar) {
      if (percent === null) { bar.removeAttribute("value"); } else { bar.value = percent; }
    }
    if (label) { label.textContent = text; }
  }

  // The analysis's stages, after the upload's progress --------------------------------
  // The form carries a random progress id as its first field (the server knows it as
  // "receiving" from then on); once the files are sent, the page reads
  // GET /rate/progress/{id} until the answer arrives: queued (waiting for an analysis
  // slot), analysing (a worker has it), done. #progress's data-stage says where it stands.
  var STAGE_TEXT = {
    uploaded: "Uploaded; waiting for the server…",
    receiving: "Uploaded; the server is reading the files…",
    queued: "Queued: waiting for a free analysis slot…",
    analysing: "Analysing…",
    done: "Done; showing the result…",
  };
  var POLL_MS = 300;

  function newProgressId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function showStage(stage, prefix) {
    var box = byId("progress");
    if (box) {
      box.dataset.stage = stage;
      box.dataset.stages = (box.dataset.stages ? box.dataset.stages + " " : "") + stage;
    }
    if (STAGE_TEXT[stage]) { setProgress(null, (prefix || "") + STAGE_TEXT[stage]); }
  }

  // Read the stage of `id` every POLL_MS until the returned function is called.
  function watchProgress(id, prefix) {
    var stopped = false, last = null, timer = null;
    function poll() {
      if (stopped) { return; }
      fetch("/rate/progress/" + id, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (body) {
          if (!stopped && body && body.stage !== last) { last = body.stage; showStage(last, prefix); }
        })
        .catch(function () { /* the POST's own answer says what went wrong */ })
        .then(function () { if (!stopped) { timer = setTimeout(poll, POLL_MS); } });
    }
    timer = setTimeout(poll, POLL_MS);  // the POST's first bytes, with the id, go first
    return function stop() { stopped = true; clearTimeout(timer); };
  }

  var single = { id: null, stop: null };

  function startWatching() {
    if (single.id && !single.stop) {
      showStage("uploaded");
      single.stop = watchProgress(single.id);
    }
  }

  function stopWatching() {
    if (single.stop) { single.stop(); }
    single.id = null;
    single.stop = null;
  }

  document.addEventListener("htmx:configRequest", function (event) {
    if (!event.target || event.target.id !== "rate-form") { return; }
    stopWatching();
    single.id = newProgressId();
    // In place: the form's hidden progress_id comes first, before the files.
    event.detail.formData.set("progress_id", single.id);
    var box = byId("progress");
    if (box) { box.dataset.stages = ""; }
    showStage("uploading");
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.target && event.target.id === "rate-form") { stopWatching(); }
  });

  document.addEventListener("input", function (event) {
    if (event.target && event.target.id === "amount") {
      byId("amount-value").textContent = event.target.value + " %";
    }
  });

  // Errors in plain words beside the file concerned ------------------------------------
  var AUDIO_NAME = /\.(wav|wave|flac|ogg|oga|opus|mp3)$/i;
  var FILE_NAMES = ["reference", "candidate"];

  function fileKey(input) { return input.name || ("versions" in input.dataset ? "versions" : ""); }

  function fileError(name, text) {
    var box = document.querySelector("[data-file-error=" + name + "]");
    var input = Array.prototype.filter.call(
      document.querySelectorAll("#rate-form input[type=file]"), function (each) { return fileKey(each) === name; })[0];
    if (box) { box.hidden = !text; box.textContent = text || ""; }
    if (input) { input.setAttribute("aria-invalid", text ? "true" : "false"); }
  }

  function fileProblem(input, limitMb) {
    var files = Array.prototype.slice.call(input.files || []);
    for (var i = 0; i < files.length; i++) {
      var file = files[i];
      var type = file.type || "";
      if (!AUDIO_NAME.test(file.name) && type.indexOf("audio/") !== 0) {
        return file.name + " is not an audio file the service reads: choose WAV, FLAC, Ogg Vorbis, Opus or MP3.";
      }
      if (file.size > limitMb * 1024 * 1024) {
        return file.name + " is larger than the " + limitMb + " MB limit per file.";
      }
    }
    return null;
  }

  function checkInput(input) {
    var form = byId("rate-form");
    if (!form || !input || !fileKey(input)) { return null; }
    var problem = fileProblem(input, Number(form.dataset.maxUploadMb));
    fileError(fileKey(input), problem);
    return problem;
  }

  window.MasteringRateForm = {
    checkInput: checkInput, newProgressId: newProgressId, watchProgress: watchProgress,
  };

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (input && input.type === "file" && input.form && input.form.id === "rate-form") { checkInput(input); }
  });

  document.addEventListener("htmx:confirm", function (event) {
    var form = event.target;
    if (!form || form.id !== "rate-form") { return; }
    var problems = 0;
    form.querySelectorAll("input[type=file]").forEach(function (input) {
      if (checkInput(input)) { problems += 1; }
    });
    byId("client-error").hidden = true;
    if (problems) { event.preventDefault(); return; }
    setProgress(0, "Uploading… 0 %");
  });

  // A refusal that names a file ("reference: …", "The candidate file …") shows beside it too.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (!event.target || event.target.id !== "result") { return; }
    var error = event.target.querySelector(".error");
    var text = error ? error.textContent.trim() : "";
    FILE_NAMES.forEach(function (name) {
      var named = new RegExp("^(" + name + ":|the " + name + " file)", "i").test(text);
      var other = FILE_NAMES.filter(function (n) { return n !== name; })[0];
      var mentionsOther = new RegExp("\\b" + other + "\\b", "i").test(text);
      fileError(name, named && !mentionsOther ? text : null);
    });
  });

  // Drag and drop on both file boxes ----------------------------------------------------
  function dropZone(event) {
    return event.target && event.target.closest ? event.target.closest("#rate-form [data-drop]") : null;
  }

  ["dragenter", "dragover"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      var zone = dropZone(event);
      if (!zone) { return; }
      event.preventDefault();
      zone.classList.add("dragging");
    });
  });

  document.addEventListener("dragleave", function (event) {
    var zone = dropZone(event);
    if (zone) { zone.classList.remove("dragging"); }
  });

  document.addEventListener("drop", function (event) {
    var zone = dropZone(event);
    if (!zone) { return; }
    event.preventDefault();
    zone.classList.remove("dragging");
    var files = event.dataTransfer && event.dataTransfer.files;
    var input = zone.querySelector("input[type=file]");
    if (!files || !files.length || !input) { return; }
    var transfer = new DataTransfer();
    Array.prototype.slice.call(files, 0, input.multiple ? files.length : 1).forEach(function (file) {
      transfer.items.add(file);
    });
    input.files = transfer.files;
    input.dispatchEvent(new Event("change", { bubbles: true }));
  });

  document.addEventListener("htmx:xhr:progress", function (event) {
    var detail = event.detail;
    if (!detail.lengthComputable || !detail.total) { return; }
    var percent = Math.round(100 * detail.loaded / detail.total);
    if (percent >= 100) {
      startWatching();
    } else {
      setProgress(percent, "Uploading… " + percent + " %");
    }
  });

  // Some browsers report the upload's end without a last progress event.
  document.addEventListener("htmx:xhr:loadend", function (event) {
    if (event.target && event.target.id === "rate-form") { startWatching(); }
  });

  document.addEventListener("htmx:sendError", function () {
    var box = byId("client-error");
    if (box) {
      box.hidden = false;
      box.textContent = "The upload failed: the server could not be reached or closed the connection.";
    }
  });

  function formatHz(value) {
    if (value == null) { return ""; }
    return value >= 1000 ? (value / 1000).toFixed(value >= 10000 ? 0 : 1) + " kHz" : Math.round(value) + " Hz";
  }

  function logAxis(label) {
    return {
      label: label,
      values: function (u, splits) { return splits.map(formatHz); },
    };
  }

  function chartWidth(el) { return Math.max(280, el.clientWidth || 640); }

  // Shade the plot from `fromHz` up: one file holds no audio there (the page says which).
  function shadeFrom(fromHz) {
    return function (u) {
      var left = Math.max(u.bbox.left, u.valToPos(fromHz, "x", true));
      var right = u.bbox.left + u.bbox.width;
      if (right <= left) { return; }
      u.ctx.save();
      u.ctx.fillStyle = "rgba(134, 142, 150, 0.25)";
      u.ctx.fillRect(left, u.bbox.top, right - left, u.bbox.height);
      u.ctx.restore();
    };
  }

  function plot(el, data, kind, unseenFromHz) {
    var x = data.band_centres_hz;
    var options = {
      width: chartWidth(el),
      height: 260,
      scales: { x: { time: false, distr: 3, log: 10, range: function () { return [20, 20480]; } } },
      axes: [logAxis("frequency"), { label: "dB" }],
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
      series: [{ label: "Hz", value: function (u, v) { return formatHz(v); } }],
      hooks: unseenFromHz ? { drawClear: [shadeFrom(unseenFromHz)] } : {},
    };
    var series;
    if (kind === "spectra") {
      options.series.push(
        { label: "reference", stroke: "#1f6feb", width: 2 },
        { label: "candidate", stroke: "#d9480f", width: 2 }
      );
      series = [x, data.reference_db, data.candidate_db];
    } else {
      var span = 6;
      var eqAlone = data.eq_difference_db || null;  // read through the transfer: the chain left out
      data.difference_db.concat(data.curve_db, eqAlone || []).forEach(function (v) { span = Math.max(span, Math.abs(v) * 1.1); });
      options.scales.y = { range: [-span, span] };
      options.series.push({ label: "difference", stroke: "#6741d9", width: 2 });
      series = [x, data.difference_db];
      if (eqAlone) {
        options.series.push({ label: "EQ alone (compression and limiting left out)", stroke: "#e8590c", width: 1.5 });
        series.push(eqAlone);
      }
      options.series.push(
        { label: "recognised EQ", stroke: "#2b8a3e", width: 2, dash: [6, 4] },
        { label: "0 dB", stroke: "#adb5bd", width: 1, points: { show: false } }
      );
      series.push(data.curve_db, x.map(function () { return 0; }));
    }
    return new uPlot(options, series, el);
  }

  function initCharts(root) {
    if (typeof uPlot === "undefined") { return; }
    root.querySelectorAll("[data-spectra]").forEach(function (box) {
      if (box.dataset.ready) { return; }
      box.dataset.ready = "1";
      var data = JSON.parse(box.querySelector(".spectra-data").textContent);
      var unseenFromHz = Number(box.dataset.unseenFromHz) || null;
      var charts = [];
      box.querySelectorAll("[data-chart]").forEach(function (el) {
        charts.push({ el: el, chart: plot(el, data, el.dataset.chart, unseenFromHz) });
      });
      window.addEventListener("resize", function () {
        charts.forEach(function (c) { c.chart.setSize({ width: chartWidth(c.el), height: 260 }); });
      });
    });
  }

  window.MasteringRateForm.initCharts = initCharts;

  function start() {
    if (window.htmx) {
      htmx.onLoad(function (elt) { initCharts(elt); });
    } else {
      initCharts(document);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
