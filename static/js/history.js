// History page: the rating over time, drawn with the vendored uPlot.
(function () {
  function draw(root) {
    const el = root.querySelector ? root.querySelector("#history-chart") : null;
    if (!el || el.dataset.drawn || typeof uPlot === "undefined") return;
    const series = JSON.parse(el.dataset.series);
    if (!series.t.length) return;
    el.dataset.drawn = "1";
    const width = Math.max(320, el.clientWidth || 800);
    new uPlot({
      width: width,
      height: 260,
      scales: { y: { range: (u, min, max) => [0, Math.max(3, max + 1)] } },
      axes: [{}, { label: "rating (EQ moves)" }],
      series: [
        {},
        { label: "rating", stroke: "#1f6feb", width: 2, points: { size: 7, fill: "#1f6feb" } },
      ],
    }, [series.t, series.rating], el);
  }
  function init() { draw(document); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
  if (window.htmx) htmx.onLoad(draw);
})();
