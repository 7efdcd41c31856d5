// Charts of the whole-master measures (templates/partials/master_measures.html), drawn with uPlot:
// both masters' short-term loudness over time, and their stereo width per octave band.
(function () {
  "use strict";

  var REFERENCE = "#1f6feb";
  var CANDIDATE = "#d9480f";

  function chartWidth(el) { return Math.max(280, el.clientWidth || 640); }

  function seconds(series) {
    var times = [];
    for (var i = 0; i < series.short_term_lufs.length; i++) {
      times.push(series.short_term_start_s + i * series.short_term_step_s);
    }
    return times;
  }

  function padded(values, length) {
    var out = values.slice(0, length);
    while (out.length < length) { out.push(null); }
    return out;
  }

  function shortTermChart(el, loudness) {
    var ref = loudness.reference;
    var cand = loudness.candidate;
    var longer = ref.short_term_lufs.length >= cand.short_term_lufs.length ? ref : cand;
    var x = seconds(longer);
    return new uPlot({
      width: chartWidth(el),
      height: 240,
      scales: { x: { time: false } },
      axes: [{ label: "time (s)" }, { label: "LUFS" }],
      cursor: { drag: { x: false, y: false } },
      series: [
        { label: "s" },
        { label: "reference", stroke: REFERENCE, width: 2, spanGaps: false },
        { label: "your master", stroke: CANDIDATE, width: 2, spanGaps: false },
      ],
    }, [x, padded(ref.short_term_lufs, x.length), padded(cand.short_term_lufs, x.length)], el);
  }

  function widthChart(el, stereo) {
    var x = stereo.bands.map(function (b) { return Math.sqrt(b.low_hz * b.high_hz); });
    return new uPlot({
      width: chartWidth(el),
      height: 240,
      scales: { x: { time: false, distr: 3, log: 2 } },
      axes: [{
        label: "octave band",
        values: function (u, splits) {
          return splits.map(function (v) { return v >= 1000 ? (v / 1000).toFixed(0) + " k" : Math.round(v); });
        },
      }, { label: "width (dB)" }],
      cursor: { drag: { x: false, y: false } },
      series: [
        { label: "Hz", value: function (u, v) { return v == null ? "" : Math.round(v) + " Hz"; } },
        { label: "reference", stroke: REFERENCE, width: 2 },
        { label: "your master", stroke: CANDIDATE, width: 2 },
      ],
    }, [x, stereo.bands.map(function (b) { return b.reference_width_db; }),
        stereo.bands.map(function (b) { return b.candidate_width_db; })], el);
  }

  function initMeasures(root) {
    if (typeof uPlot === "undefined") { return; }
    root.querySelectorAll("[data-master-measures]").forEach(function (box) {
      if (box.dataset.ready) { return; }
      box.dataset.ready = "1";
      var data = JSON.parse(box.querySelector(".master-measures-data").textContent);
      var charts = [];
      box.querySelectorAll("[data-measure-chart]").forEach(function (el) {
        var kind = el.dataset.measureChart;
        if (kind === "short-term" && data.loudness) {
          charts.push({ el: el, chart: shortTermChart(el, data.loudness) });
        } else if (kind === "width" && data.stereo) {
          charts.push({ el: el, chart: widthChart(el, data.stereo) });
        }
      });
      window.addEventListener("resize", function () {
        charts.forEach(function (c) { c.chart.setSize({ width: chartWidth(c.el), height: 240 }); });
      });
    });
  }

  function start() {
    if (window.htmx) {
      htmx.onLoad(function (elt) { initMeasures(elt); });
    } else {
      initMeasures(document);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
