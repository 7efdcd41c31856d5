// Rating-over-time charts, drawn with the vendored uPlot:
// #history-chart (a student's own ratings) and #progress-chart (one line per student).
(function () {
  const COLOURS = ["#1f6feb", "#d9480f", "#2b8a3e", "#862e9c", "#e67700", "#0b7285",
                   "#c2255c", "#5c940d", "#364fc7", "#a61e4d"];

  function plot(el, series, values, yLabel, yRange) {
    el.dataset.drawn = "1";
    const width = Math.max(320, el.clientWidth || 800);
    new uPlot({
      width: width,
      height: 260,
      scales: { y: { range: yRange || ((u, min, max) => [0, Math.max(3, (max || 0) + 1)]) } },
      axes: [{}, { label: yLabel || "rating (EQ moves)" }],
      series: [{}].concat(series),
    }, values, el);
  }

  // Candidate minus reference integrated loudness (LU), symmetric about 0.
  function loudnessRange(u, min, max) {
    const span = Math.max(3, Math.abs(min || 0), Math.abs(max || 0)) + 1;
    return [-span, span];
  }

  function line(label, i) {
    const colour = COLOURS[i % COLOURS.length];
    return { label: label, stroke: colour, width: 2, spanGaps: true,
             points: { size: 7, fill: colour } };
  }

  function draw(root) {
    if (typeof uPlot === "undefined" || !root.querySelector) return;
    const own = root.querySelector("#history-chart");
    if (own && !own.dataset.drawn) {
      const data = JSON.parse(own.dataset.series);
      if (data.t.length) plot(own, [line("rating", 0)], [data.t, data.rating]);
    }
    const loudness = root.querySelector("#loudness-history-chart");
    if (loudness && !loudness.dataset.drawn) {
      const data = JSON.parse(loudness.dataset.series);
      const known = (data.loudness_difference_lu || []).some((v) => v !== null);
      if (data.t.length && known) {
        plot(loudness, [line("loudness difference (LU)", 1)],
             [data.t, data.loudness_difference_lu], "candidate - reference (LU)", loudnessRange);
      }
    }
    const progress = root.querySelector("#progress-chart");
    if (progress && !progress.dataset.drawn) {
      const data = JSON.parse(progress.dataset.series);
      if (data.t.length) {
        plot(progress, data.series.map((s, i) => line(s.label, i)),
             [data.t].concat(data.series.map((s) => s.values)));
      }
    }
  }

  function init() { draw(document); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
  if (window.htmx) htmx.onLoad(draw);
})();
