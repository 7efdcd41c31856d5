// The A/B player (templates/partials/player.html). wavesurfer.js draws the candidate's waveform
// and owns the position; Web Audio carries three paths that play in step, and the switch only
// changes which one is heard: the reference, the candidate, and the candidate through the
// suggested moves as BiquadFilterNodes (the RBJ cookbook shapes of app/audio/eq.py).
(function () {
  "use strict";

  var LN2 = Math.log(2);
  var NODE_TYPES = {
    bell: "peaking", low_shelf: "lowshelf", high_shelf: "highshelf",
    high_pass: "highpass", low_pass: "lowpass",
  };
  var SOURCES = ["reference", "candidate", "fix"];
  var RAMP_S = 0.005;
  var DEFAULT_SHELF_SLOPE = 0.5;  // app/audio/eq.py's default (sox's bass and treble)  // gain changes glide over a few ms: no click on switching
  var current = null;  // the player on the page (there is one at a time)

  // Q of Web Audio's peaking filter for the cookbook's bandwidth in octaves, with the same
  // digital-frequency warping as app/audio/eq.py's peaking_sos (alpha = sin(w0) / (2 Q)).
  function bellQ(frequencyHz, widthOctaves, sampleRateHz) {
    var w0 = 2 * Math.PI * frequencyHz / sampleRateHz;
    return 1 / (2 * Math.sinh(LN2 / 2 * widthOctaves * w0 / Math.sin(w0)));
  }

  function isEqMove(move) { return !move.kind || move.kind === "eq"; }

  // The cookbook shelf with slope S (app/audio/eq.py's shelf_sos); BiquadFilterNode's shelves
  // are fixed at S = 1, so shelves are IIRFilterNodes with the same coefficients.
  function shelfNode(context, move, gainDb) {
    var amplitude = Math.pow(10, gainDb / 40);
    var slope = move.slope || DEFAULT_SHELF_SLOPE;
    var underRoot = Math.max(0, (amplitude + 1 / amplitude) * (1 / slope - 1) + 2);
    var w0 = 2 * Math.PI * move.frequency_hz / context.sampleRate;
    var cos = Math.cos(w0);
    var twoRootAAlpha = Math.sqrt(amplitude) * Math.sin(w0) * Math.sqrt(underRoot);
    var plus = amplitude + 1, minus = amplitude - 1;
    var sign = move.type === "low_shelf" ? 1 : -1;
    var b = [plus - sign * minus * cos + twoRootAAlpha, sign * 2 * (minus - sign * plus * cos),
             plus - sign * minus * cos - twoRootAAlpha].map(function (v) { return v * amplitude; });
    var a = [plus + sign * minus * cos + twoRootAAlpha, -sign * 2 * (minus + sign * plus * cos),
             plus + sign * minus * cos - twoRootAAlpha];
    return context.createIIRFilter(b, a);
  }

  // Q of each biquad of an even-order Butterworth filter (app/audio/eq.py's butterworth_qs).
  function butterworthQs(order) {
    var qs = [];
    for (var k = 1; k <= order / 2; k++) { qs.push(1 / (2 * Math.sin((2 * k - 1) * Math.PI / (2 * order)))); }
    return qs.sort(function (a, b) { return a - b; });
  }

  // The filters of one EQ move, gains scaled by `scale` (1 = as suggested).
  function moveNodes(context, move, scale) {
    var kind = move.type || "bell";
    var gainDb = (move.gain_db || 0) * scale;
    if (kind === "low_shelf" || kind === "high_shelf") { return [shelfNode(context, move, gainDb)]; }
    if (kind === "high_pass" || kind === "low_pass") {
      if (!(scale > 0)) { return []; }
      return butterworthQs(move.order === 4 ? 4 : 2).map(function (q) {
        var node = context.createBiquadFilter();
        node.type = NODE_TYPES[kind];
        node.frequency.value = move.frequency_hz;
        node.Q.value = 20 * Math.log10(q);  // Web Audio reads a pass filter's Q in dB
        return node;
      });
    }
    var bell = context.createBiquadFilter();
    bell.type = "peaking";
    bell.frequency.value = move.frequency_hz;
    bell.gain.value = gainDb;
    bell.Q.value = bellQ(move.frequency_hz, move.width_octaves || 1, context.sampleRate);
    return [bell];
  }

  // Every filter of the EQ moves among the suggestions, in series order.
  function makeFilters(context, moves, scale) {
    var nyquistHz = context.sampleRate / 2;
    return moves.filter(function (move) {
      return isEqMove(move) && move.frequency_hz > 0 && move.frequency_hz < nyquistHz;
    }).reduce(function (nodes, move) { return nodes.concat(moveNodes(context, move, scale)); }, []);
  }

  // Summed magnitude response of a chain of filters, dB, at the given frequencies.
  function responseDb(nodes, frequenciesHz) {
    var freqs = Float32Array.from(frequenciesHz);
    var total = new Float64Array(freqs.length);
    var magnitude = new Float32Array(freqs.length);
    var phase = new Float32Array(freqs.length);
    nodes.forEach(function (node) {
      node.getFrequencyResponse(freqs, magnitude, phase);
      for (var i = 0; i < freqs.length; i++) { total[i] += 20 * Math.log10(magnitude[i]); }
    });
    return Array.from(total);
  }

  function formatTime(seconds) {
    var s = Math.max(0, seconds || 0);
    var minutes = Math.floor(s / 60);
    var rest = (s - minutes * 60).toFixed(1);
    return minutes + ":" + (rest < 10 ? "0" : "") + rest;
  }

  // A few thousand max-abs points of the first channel: enough for the waveform.
  function peaksOf(buffer, points) {
    var data = buffer.getChannelData(0);
    var step = Math.max(1, Math.floor(data.length / points));
    var out = new Float32Array(Math.ceil(data.length / step));
    for (var i = 0, j = 0; i < data.length; i += step, j++) {
      var peak = 0;
      for (var k = i; k < Math.min(i + step, data.length); k++) {
        var v = Math.abs(data[k]);
        if (v > peak) { peak = v; }
      }
      out[j] = peak;
    }
    return out;
  }

  // Where the audio comes from: server URLs (data-sources) or the files chosen in the form.
  function findSources(section) {
    if (section.dataset.sources) {
      var urls = JSON.parse(section.dataset.sources);
      return { reference: { url: urls.reference }, candidate: { url: urls.candidate } };
    }
    var found = {};
    var owned = [];
    ["reference", "candidate"].forEach(function (name) {
      var input = document.querySelector("#rate-form input[type=file][name=" + name + "]");
      var file = input && input.files && input.files[0];
      if (name === "candidate" && section.dataset.candidateIndex && window.MasteringVersions) {
        file = window.MasteringVersions.candidateFiles()[Number(section.dataset.candidateIndex)];
      }
      if (file) {
        var url = URL.createObjectURL(file);
        owned.push(url);
        found[name] = { url: url, file: file };
      }
    });
    if (!found.reference || !found.candidate) {
      owned.forEach(function (url) { URL.revokeObjectURL(url); });
      return null;
    }
    found.owned = owned;
    return found;
  }

  function bytesOf(source) {
    if (source.file) { return source.file.arrayBuffer(); }
    return fetch(source.url, { credentials: "same-origin" }).then(function (r) { return r.arrayBuffer(); });
  }

  function destroy() {
    if (!current) { return; }
    var p = current;
    current = null;
    try { p.referenceAudio.pause(); } catch (e) { /* already gone */ }
    var slider = document.getElementById("amount");
    if (slider && p.onAmount) { slider.removeEventListener("input", p.onAmount); }
    if (p.wave) { p.wave.destroy(); }
    if (p.context) { p.context.close(); }
    (p.sources.owned || []).forEach(function (url) { URL.revokeObjectURL(url); });
  }

  function Player(section, sources) {
    var self = this;
    this.section = section;
    this.sources = sources;
    this.source = "candidate";
    this.loop = null;
    this.levelDb = Number(section.dataset.levelOffsetDb) || 0;
    this.offsetS = Number(section.dataset.offsetS) || 0;
    this.amount = Number(section.dataset.amount);
    this.moves = JSON.parse(section.querySelector("[data-moves]").textContent);
    this.status = section.querySelector("[data-player-status]");

    var context = this.context = new AudioContext();
    this.referenceAudio = new Audio();
    this.candidateAudio = new Audio();
    [this.referenceAudio, this.candidateAudio].forEach(function (audio) { audio.preload = "auto"; });
    this.referenceAudio.src = sources.reference.url;

    this.gains = {};
    SOURCES.forEach(function (name) {
      var gain = self.gains[name] = context.createGain();
      gain.gain.value = 0;
      gain.connect(context.destination);
    });
    context.createMediaElementSource(this.referenceAudio).connect(this.gains.reference);
    this.candidateSource = context.createMediaElementSource(this.candidateAudio);
    this.candidateSource.connect(this.gains.candidate);
    this.filters = [];
    this.buildFix();

    this.regions = WaveSurfer.Regions.create();
    this.wave = WaveSurfer.create({
      container: section.querySelector("[data-waveform]"),
      media: this.candidateAudio,
      height: 96,
      normalize: true,
      waveColor: "#9db6e0",
      progressColor: "#1f6feb",
      cursorColor: "#d9480f",
      // wavesurfer puts a <style> in its shadow root: under a CSP without 'unsafe-inline'
      // styles it needs the response's nonce (data-csp-nonce on the player).
      cspNonce: section.dataset.cspNonce || undefined,
      plugins: [this.regions],
    });
    this.bind();
    this.applyGains();
    this.status.textContent = "Loading the audio…";
    bytesOf(sources.candidate)
      .then(function (bytes) { return context.decodeAudioData(bytes); })
      .then(function (buffer) {
        return self.wave.load(sources.candidate.url, [peaksOf(buffer, 4000)], buffer.duration);
      })
      .then(function () {
        section.querySelector("[data-play]").disabled = false;
        section.dataset.ready = "1";
        var name = sources.candidate.file ? sources.candidate.file.name : "your master";
        self.status.textContent = "Ready: " + name + ", " + formatTime(self.wave.getDuration()) + ".";
      })
      .catch(function (error) {
        self.status.textContent = "This browser cannot play the file: " + (error && error.message || error) + ".";
      });
  }

  // The candidate through the fix's filters into the fix's gain (rebuilt when the strength moves).
  Player.prototype.buildFix = function () {
    var source = this.candidateSource;
    this.filters.forEach(function (node) { node.disconnect(); });
    if (this.fixHead) { source.disconnect(this.fixHead); }
    this.filters = makeFilters(this.context, this.moves, this.fixScale());
    var chain = this.filters.concat([this.gains.fix]);
    for (var i = 0; i + 1 < chain.length; i++) { chain[i].connect(chain[i + 1]); }
    this.fixHead = chain[0];
    source.connect(this.fixHead);
  };

  Player.prototype.fixScale = function () {
    var slider = document.getElementById("amount");
    if (!slider || !(this.amount > 0)) { return 1; }
    return Number(slider.value) / this.amount;
  };

  // Level matching: the louder file is turned down to the quieter one (nothing is boosted).
  Player.prototype.levels = function () {
    var matched = this.section.querySelector("[data-matched]").checked;
    if (!matched) { return { reference: 1, candidate: 1 }; }
    return {
      reference: Math.min(1, Math.pow(10, this.levelDb / 20)),
      candidate: Math.min(1, Math.pow(10, -this.levelDb / 20)),
    };
  };

  Player.prototype.applyGains = function () {
    var levels = this.levels();
    var targets = {
      reference: this.source === "reference" ? levels.reference : 0,
      candidate: this.source === "candidate" ? levels.candidate : 0,
      fix: this.source === "fix" ? levels.candidate : 0,
    };
    var now = this.context.currentTime;
    var section = this.section;
    var gains = this.gains;
    SOURCES.forEach(function (name) {
      gains[name].gain.setTargetAtTime(targets[name], now, RAMP_S);
      section.dataset["gain" + name.charAt(0).toUpperCase() + name.slice(1)] = targets[name].toFixed(4);
    });
    section.dataset.source = this.source;
    section.querySelectorAll("[data-source]").forEach(function (button) {
      if (button.tagName === "BUTTON") {
        button.setAttribute("aria-pressed", String(button.dataset.source === section.dataset.source));
      }
    });
  };

  Player.prototype.switchTo = function (name) {
    if (SOURCES.indexOf(name) < 0) { return; }
    this.source = name;
    this.applyGains();
  };

  // The reference follows the candidate's clock (shifted by the alignment offset).
  Player.prototype.syncReference = function (force) {
    var target = this.wave.getCurrentTime() + this.offsetS;
    var ref = this.referenceAudio;
    if (target < 0 || (ref.duration && target > ref.duration)) {
      ref.pause();
      return;
    }
    if (force || Math.abs(ref.currentTime - target) > 0.04) { ref.currentTime = target; }
    if (this.wave.isPlaying() && ref.paused) { ref.play().catch(function () { /* not yet loaded */ }); }
  };

  Player.prototype.togglePlay = function () {
    var self = this;
    if (!this.section.dataset.ready) { return; }
    this.context.resume().then(function () {
      if (!self.wave.isPlaying() && self.loop) {
        var t = self.wave.getCurrentTime();
        if (t < self.loop.start || t >= self.loop.end) { self.wave.setTime(self.loop.start); }
      }
      return self.wave.playPause();
    });
  };

  Player.prototype.bind = function () {
    var self = this;
    var section = this.section;
    var wave = this.wave;
    var play = section.querySelector("[data-play]");
    var time = section.querySelector("[data-time]");
    var clear = section.querySelector("[data-clear-loop]");

    play.addEventListener("click", function () { self.togglePlay(); });
    section.querySelectorAll("button[data-source]").forEach(function (button) {
      button.addEventListener("click", function () { self.switchTo(button.dataset.source); });
    });
    section.querySelector("[data-matched]").addEventListener("change", function () { self.applyGains(); });
    clear.addEventListener("click", function () {
      self.regions.clearRegions();
      self.setLoop(null);
    });

    wave.on("play", function () {
      play.textContent = "Pause";
      section.dataset.playing = "1";
      self.syncReference(true);
    });
    wave.on("pause", function () {
      play.textContent = "Play";
      delete section.dataset.playing;
      self.referenceAudio.pause();
    });
    wave.on("seeking", function () { self.syncReference(true); });
    wave.on("timeupdate", function (t) {
      if (self.loop && wave.isPlaying() && t >= self.loop.end) {
        wave.setTime(self.loop.start);
        return;
      }
      time.textContent = formatTime(t);
      section.dataset.position = t.toFixed(3);
      if (wave.isPlaying()) { self.syncReference(false); }
    });

    this.regions.enableDragSelection({ color: "rgba(31, 111, 235, 0.18)" });
    this.regions.on("region-created", function (region) {
      self.regions.getRegions().forEach(function (other) { if (other !== region) { other.remove(); } });
      self.setLoop(region);
    });
    this.regions.on("region-updated", function (region) { self.setLoop(region); });
    this.regions.on("region-clicked", function (region, event) {
      event.stopPropagation();
      wave.setTime(region.start);
    });

    var slider = document.getElementById("amount");
    if (slider) {
      this.onAmount = function () { self.buildFix(); };
      slider.addEventListener("input", this.onAmount);
    }
  };

  // The keyboard's way to loop: "[" marks the start at the playhead, "]" the end.
  Player.prototype.markLoop = function (edge) {
    var t = this.wave.getCurrentTime();
    if (edge === "start") { this.loopStartS = t; return; }
    if (this.loopStartS == null || t <= this.loopStartS + 0.05) { return; }
    this.regions.clearRegions();
    this.regions.addRegion({ start: this.loopStartS, end: t, color: "rgba(31, 111, 235, 0.18)" });
    this.loopStartS = null;
  };

  Player.prototype.setLoop = function (region) {
    this.loop = region;
    var clear = this.section.querySelector("[data-clear-loop]");
    clear.hidden = !region;
    if (region) {
      this.section.dataset.loopStart = region.start.toFixed(3);
      this.section.dataset.loopEnd = region.end.toFixed(3);
    } else {
      delete this.section.dataset.loopStart;
      delete this.section.dataset.loopEnd;
    }
  };

  // Space plays and pauses, 1/2/3 switch; not while typing in a field or choosing in a list.
  document.addEventListener("keydown", function (event) {
    if (!current || event.ctrlKey || event.metaKey || event.altKey) { return; }
    var target = event.target;
    var tag = target && target.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable)) { return; }
    if (tag === "INPUT" && !/^(checkbox|radio|button|submit)$/.test(target.type)) { return; }
    if (event.key === " " || event.code === "Space") {
      if (tag === "INPUT" || (tag === "BUTTON" && !current.section.contains(target))) { return; }
      event.preventDefault();
      current.togglePlay();
    } else if (event.key === "1" || event.key === "2" || event.key === "3") {
      event.preventDefault();
      current.switchTo(SOURCES[Number(event.key) - 1]);
    } else if (event.key === "[" || event.key === "]") {
      event.preventDefault();
      current.markLoop(event.key === "[" ? "start" : "end");
    }
  });

  function init(root) {
    var section = root.querySelector ? (root.id === "player" ? root : root.querySelector("#player")) : null;
    if (!section || section.dataset.bound || typeof WaveSurfer === "undefined") { return; }
    var sources = findSources(section);
    if (!sources) { return; }
    destroy();
    section.dataset.bound = "1";
    current = new Player(section, sources);
    window.MasteringPlayer.current = current;
  }

  // Play another version (static/js/versions.js changes the section's data first).
  function reload(section) {
    destroy();
    delete section.dataset.bound;
    delete section.dataset.ready;
    delete section.dataset.playing;
    section.querySelector("[data-play]").disabled = true;
    section.querySelector("[data-play]").textContent = "Play";
    section.querySelector("[data-waveform]").innerHTML = "";
    init(section);
  }

  window.MasteringPlayer = {
    bellQ: bellQ, makeFilters: makeFilters, responseDb: responseDb, NODE_TYPES: NODE_TYPES,
    reload: reload, current: null,
  };

  function start() {
    if (window.htmx) { htmx.onLoad(init); } else { init(document); }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
