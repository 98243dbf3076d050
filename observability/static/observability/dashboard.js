/* Chorus component dashboard: draws the charts from the JSON the page embeds (#chart-data)
 * and redraws them in place whenever HTMX swaps in a fresh #dashboard-data fragment.
 * The same numbers are in the table #chart-table for screen readers and tests. */
(function () {
  "use strict";
  if (typeof Chart === "undefined") return;

  var COLORS = {
    succeeded: "#40c057", partial: "#94d82d", failed: "#fa5252", timed_out: "#e8590c",
    missed: "#fab005", skipped: "#9775fa", cancelled: "#adb5bd"
  };
  var charts = {};
  var current = null;

  function readData() {
    var el = document.getElementById("chart-data");
    return el ? JSON.parse(el.textContent) : null;
  }

  function fmtSeconds(v) {
    if (v === null || v === undefined) return "—";
    if (v < 10) return Number(v.toPrecision(3)) + " s";
    if (v < 60) return Math.round(v) + " s";
    if (v < 3600) return Math.floor(v / 60) + "m " + Math.round(v % 60) + "s";
    return Math.floor(v / 3600) + "h " + Math.round((v % 3600) / 60) + "m";
  }

  function countDatasets(d) {
    return Object.keys(d.seriesLabels).map(function (key) {
      return {
        key: key, label: d.seriesLabels[key], data: d.series[key],
        backgroundColor: COLORS[key] || "#868e96", stack: "runs", borderWidth: 0
      };
    });
  }

  function line(label, data, color, dashed) {
    return {
      label: label, data: data, borderColor: color, backgroundColor: color,
      borderDash: dashed ? [6, 4] : [], spanGaps: true, tension: 0.2, pointRadius: 2
    };
  }

  function seriesFor(name, d) {
    if (name === "counts") return countDatasets(d);
    if (name === "rate") return [line("Success rate", d.successRate, "#2b8a3e")];
    if (name === "duration") return [line("p50", d.durationP50, "#3b5bdb"), line("p95", d.durationP95, "#c92a2a", true)];
    return [line("p50", d.lagP50, "#1971c2"), line("p95", d.lagP95, "#e67700", true)];
  }

  function baseOptions(extra) {
    var o = {
      responsive: true, maintainAspectRatio: false, animation: false,
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { position: "bottom" } },
      scales: { x: { ticks: { maxRotation: 0, autoSkip: true } }, y: { beginAtZero: true } }
    };
    return Object.assign(o, extra || {});
  }

  function build(d) {
    var counts = baseOptions();
    counts.scales.x.stacked = true;
    counts.scales.y.stacked = true;
    counts.scales.y.ticks = { precision: 0 };
    counts.plugins.tooltip = {
      filter: function (item) { return item.raw > 0; },
      callbacks: {
        footer: function (items) {
          var total = 0;
          items.forEach(function (i) { total += i.raw; });
          return total ? "Total " + total + " · click to open these executions" : "No runs";
        }
      }
    };
    counts.onHover = function (evt, els) {
      evt.native.target.style.cursor = els.length ? "pointer" : "default";
    };
    counts.onClick = function (evt, els, chart) {
      var hit = chart.getElementsAtEventForMode(evt, "nearest", { intersect: true }, true);
      if (!hit.length || !current) return;
      var key = chart.data.datasets[hit[0].datasetIndex].key;
      var i = hit[0].index;
      var sep = current.linkBase.indexOf("?") === -1 ? "?" : "&";
      window.location.href = current.linkBase + sep + "status=" + encodeURIComponent(key) +
        "&from=" + encodeURIComponent(current.starts[i]) + "&to=" + encodeURIComponent(current.ends[i]);
    };
    var rate = baseOptions();
    rate.scales.y = { min: 0, max: 100, ticks: { callback: function (v) { return v + "%"; } } };
    rate.plugins.tooltip = { callbacks: { label: function (c) { return c.raw === null ? "no runs" : "Success rate " + c.raw + "%"; } } };
    var secs = function () {
      var o = baseOptions();
      o.scales.y.ticks = { callback: fmtSeconds };
      o.plugins.tooltip = { callbacks: { label: function (c) { return c.dataset.label + ": " + fmtSeconds(c.raw); } } };
      return o;
    };
    var specs = { counts: ["bar", counts], rate: ["line", rate], duration: ["line", secs()], lag: ["line", secs()] };
    Object.keys(specs).forEach(function (name) {
      var canvas = document.getElementById("chart-" + name);
      if (!canvas) return;
      charts[name] = new Chart(canvas, {
        type: specs[name][0],
        data: { labels: d.labels, datasets: seriesFor(name, d) },
        options: specs[name][1]
      });
    });
  }

  function update(d) {
    Object.keys(charts).forEach(function (name) {
      var chart = charts[name];
      chart.data.labels = d.labels;
      seriesFor(name, d).forEach(function (fresh, i) {
        if (chart.data.datasets[i]) chart.data.datasets[i].data = fresh.data;
      });
      chart.update("none");
    });
  }

  function render() {
    var d = readData();
    if (!d) return;
    current = d;
    if (Object.keys(charts).length) update(d); else build(d);
    document.documentElement.dataset.chartsReady = "1";
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", render);
  else render();
  document.addEventListener("htmx:afterSettle", render);
})();

/* The refresh replaces #dashboard-data, <details> and all: keep "Show the numbers" open if the
 * reader opened it. Separate from the charts above, which stop early without Chart.js. */
(function () {
  "use strict";
  var wasOpen = false;
  document.addEventListener("htmx:beforeSwap", function () {
    var d = document.getElementById("chart-numbers");
    wasOpen = !!(d && d.open);
  });
  document.addEventListener("htmx:afterSwap", function () {
    var d = document.getElementById("chart-numbers");
    if (d && wasOpen) d.open = true;
  });
})();
