// Rating-over-time charts, drawn with the vendored uPlot:
// #history-chart (a student's own ratings and distances), #progress-chart and
// #progress-distance-chart (the class dashboard: one line per student).
(function () {
  const COLOURS = ["#1f6feb", "#d9480f", "#2b8a3e", "#862e9c", "#e67700", "#0b7285",
                   "#c2255c", "#5c940d", "#364fc7", "#a61e4d"];
  const DAY_S = 86400;

  // Dates and times a person reads ("2 Dec 14:05"), with seconds only when the ticks are
  // seconds apart, and the year only when the chart spans years.
  function timeLabels(u, splits, axisIdx, foundSpace, foundIncr) {
    const span = u.scales.x.max - u.scales.x.min;
    const options = { day: "numeric", month: "short" };
    if (span > 300 * DAY_S) options.year = "numeric";
    if (foundIncr < DAY_S) { options.hour = "2-digit"; options.minute = "2-digit"; options.hourCycle = "h23"; }
    if (foundIncr < 60) options.second = "2-digit";
    const format = new Intl.DateTimeFormat(undefined, options);
    return splits.map((t) => format.format(new Date(t * 1000)));
  }

  // One rating or ratings seconds apart still get a readable window (an hour either side).
  function timeRange(u, min, max) {
    if (min == null) return [0, 1];
    const pad = Math.max((max - min) * 0.05, max - min < 600 ? 1800 : 0);
    return [min - pad, max + pad];
  }

  function plot(el, series, values, extra, yLabel) {
    el.dataset.drawn = "1";
    const width = Math.max(320, el.clientWidth || 800);
    const axes = [
      { values: timeLabels, space: 90, label: "when" },
      { label: yLabel || "rating (EQ moves)" },
    ].concat(extra ? extra.axes : []);
    const scales = {
      x: { time: true, range: timeRange },
      y: { range: (u, min, max) => [0, Math.max(3, Math.ceil(max || 0) + 1)] },
    };
    if (extra) Object.assign(scales, extra.scales);
    return new uPlot({ width: width, height: 280, scales: scales, axes: axes,
                       series: [{ label: "when", value: (u, t) => t == null ? "" : new Date(t * 1000).toLocaleString() }].concat(series) },
                     values, el);
  }

  // Candidate minus reference integrated loudness (LU), symmetric about 0.
  const LOUDNESS_AXIS = {
    axes: [],
    scales: { y: { range: (u, min, max) => {
      const span = Math.max(3, Math.abs(min || 0), Math.abs(max || 0)) + 1;
      return [-span, span];
    } } },
  };

  function line(label, i, scale) {
    const colour = COLOURS[i % COLOURS.length];
    const out = { label: label, stroke: colour, width: 2, spanGaps: true,
                  points: { size: 7, fill: colour } };
    if (scale) { out.scale = scale; out.dash = [6, 4]; }
    return out;
  }

  const DISTANCE_AXIS = {
    axes: [{ scale: "db", side: 1, label: "distance (dB)", grid: { show: false } }],
    scales: { db: { range: (u, min, max) => [0, Math.max(2, Math.ceil((max || 0) + 0.5))] } },
  };

  function draw(root) {
    if (typeof uPlot === "undefined" || !root.querySelector) return;
    const own = root.querySelector("#history-chart");
    if (own && !own.dataset.drawn) {
      const data = JSON.parse(own.dataset.series);
      if (data.t.length) {
        const distances = (data.distance || []).some((v) => v != null);
        const series = [line("rating", 0)];
        const values = [data.t, data.rating];
        if (distances) { series.push(line("distance (dB)", 1, "db")); values.push(data.distance); }
        plot(own, series, values, distances ? DISTANCE_AXIS : null);
      }
    }
    const loudness = root.querySelector("#loudness-history-chart");
    if (loudness && !loudness.dataset.drawn) {
      const data = JSON.parse(loudness.dataset.series);
      const known = (data.loudness_difference_lu || []).some((v) => v != null);
      if (data.t.length && known) {
        plot(loudness, [line("loudness difference (LU)", 1)], [data.t, data.loudness_difference_lu],
             LOUDNESS_AXIS, "candidate - reference (LU)");
      }
    }
    [["#progress-chart", null], ["#progress-distance-chart", "distance (dB)"]].forEach(([id, yLabel]) => {
      const progress = root.querySelector(id);
      if (progress && !progress.dataset.drawn) {
        const data = JSON.parse(progress.dataset.series);
        if (data.t.length) {
          plot(progress, data.series.map((s, i) => line(s.label, i)),
               [data.t].concat(data.series.map((s) => s.values)), null, yLabel);
        }
      }
    });
  }

  window.MasteringCharts = { timeLabels: timeLabels };

  function init() { draw(document); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
  if (window.htmx) htmx.onLoad(draw);
})();
