// A small inline SVG line chart of one device reading over time (the alarm detail's readings), with the
// moment the alarm was raised marked. No library: a polyline per device, two axis labels a side.
"use strict";
const GuardianChart = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const W = 420, H = 190, L = 40, R = 10, T = 10, B = 26;
  const COLOURS = ["#b71c1c", "#1565c0", "#2e7d32", "#6a1b9a"];
  function svg(tag, attrs = {}, text) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }
  const hhmm = ts => new Date(ts * 1000).toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit" });

  // rows: [{ts, device, <field>}]; returns an <svg> or null when no row has the field
  function line({ rows, field, unit, label, window, mark, markLabel }) {
    const points = rows.filter(r => r[field] !== null && r[field] !== undefined);
    if (!points.length) return null;
    const [t0, t1] = window;
    const top = Math.max(1, ...points.map(r => r[field])) * 1.1;
    const x = t => L + (W - L - R) * (t - t0) / Math.max(1, t1 - t0);
    const y = v => T + (H - T - B) * (1 - v / top);
    const devices = [...new Set(points.map(r => r.device))];
    const last = points[points.length - 1][field];
    const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "data-field": field,
      "aria-label": `${label}: ${points.length} · max ${Math.max(...points.map(r => r[field]))} ${unit} · ${last} ${unit}` });
    chart.append(svg("rect", { x: L, y: T, width: W - L - R, height: H - T - B, fill: "#fff", stroke: "#bbb" }));
    chart.append(svg("text", { x: L - 6, y: T + 10, "text-anchor": "end", class: "axis" }, `${Math.round(top)}`));
    chart.append(svg("text", { x: L - 6, y: H - B, "text-anchor": "end", class: "axis" }, "0"));
    chart.append(svg("text", { x: L + 4, y: T + 14, class: "axis" }, `${label} (${unit})`));
    chart.append(svg("text", { x: L, y: H - 8, class: "axis" }, hhmm(t0)));
    chart.append(svg("text", { x: W - R, y: H - 8, "text-anchor": "end", class: "axis" }, hhmm(t1)));
    if (mark) {
      chart.append(svg("line", { x1: x(mark), x2: x(mark), y1: T, y2: H - B, stroke: "#e65100", "stroke-dasharray": "4 3" }));
      chart.append(svg("text", { x: x(mark) + 4, y: H - B - 6, class: "axis mark" }, markLabel || ""));
    }
    devices.forEach((d, i) => {
      const mine = points.filter(r => r.device === d);
      chart.append(svg("polyline", { fill: "none", stroke: COLOURS[i % COLOURS.length], "stroke-width": 2,
        points: mine.map(r => `${x(r.ts).toFixed(1)},${y(r[field]).toFixed(1)}`).join(" "), "data-device": d }));
    });
    return chart;
  }
  return { line };
})();
