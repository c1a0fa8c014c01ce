// A ticket's evidence, read at a glance: the telemetry around the onset drawn with ECharts
// (axes with units, threshold and baseline lines, the onset marked, the verification window
// shaded, a predictive finding's projected crossing with its 95 % band), and below it the
// evidence fields with labels, units and human times in the chosen language.
//
//   import { renderEvidence } from "/static/evidence.js";
//   await renderEvidence(panel, ticket, language());
//
// Data: GET /api/tickets/{id}/evidence (api/routes/evidence.py). Labels: the catalog's
// evidence.* keys (quality/i18n/catalog/evidence.yaml).

import { api, formatTime, t, tOptional } from "/static/app.js";

const ECHARTS_SRC = "/static/vendor/echarts.min.js";
const COLORS = {
  series: ["#2563eb", "#7c3aed", "#0d9488"],
  threshold: "#c0262d",
  baseline: "#667085",
  onset: "#d97706",
  passed: "rgba(22, 163, 74, 0.14)",
  waiting: "rgba(217, 119, 6, 0.14)",
  band: "rgba(192, 38, 45, 0.12)",
};
let echartsLoading = null;
let faultLabels = {};
let faultLabelsLoading = null;

/** The fault types' names in both languages (GET /api/inspections/categories), once. */
export function loadFaultLabels() {
  if (!faultLabelsLoading) {
    faultLabelsLoading = api("/api/inspections/categories")
      .then((table) => { faultLabels = table; })
      .catch(() => { faultLabelsLoading = null; });
  }
  return faultLabelsLoading;
}

/** A fault type's name in `lang` ("door_held_open" -> "门长时间未关"), else the code. */
export function faultLabel(code, lang = document.documentElement.lang) {
  const names = faultLabels[code];
  return (names && (names[lang] || names.en)) || String(code);
}

/** ECharts is a classic script (a UMD build): loaded once, on first use. */
export function loadECharts() {
  if (window.echarts) return Promise.resolve(window.echarts);
  if (!echartsLoading) {
    echartsLoading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = ECHARTS_SRC;
      script.onload = () => resolve(window.echarts);
      script.onerror = () => reject(new Error(ECHARTS_SRC));
      document.head.append(script);
    });
  }
  return echartsLoading;
}

function injectStyle() {
  if (document.getElementById("fm-evidence-style")) return;
  const style = document.createElement("style");
  style.id = "fm-evidence-style";
  style.textContent = `
    .fm-evidence { min-width:0; }
    .fm-evidence h3 { font-size:.9rem; margin:.8rem 0 .3rem; }
    .fm-evidence .fm-chart { width:100%; height:280px; }
    .fm-evidence .fm-note { color:#475467; font-size:.8rem; margin:.2rem 0; }
    .fm-evidence dl { display:grid; grid-template-columns:minmax(7rem, 40%) 1fr; gap:.15rem .6rem; margin:0; }
    .fm-evidence dl dl { grid-template-columns:minmax(6rem, 40%) 1fr; padding-left:.4rem; border-left:2px solid #e4e7ec; }
    .fm-evidence dt { color:#475467; }
    .fm-evidence dd { margin:0; overflow-wrap:anywhere; min-width:0; }
  `;
  document.head.append(style);
}

function numberFormat(lang) {
  return new Intl.NumberFormat(lang === "en" ? "en" : "zh-CN", { maximumFractionDigits: 4 });
}

function unitLabel(unit) {
  return unit ? tOptional(`evidence.unit.${unit}`) ?? unit : "";
}

function metricLabel(metric) {
  return tOptional(`evidence.metric.${metric}`) ?? metric;
}

/** 125 s -> "2 min 5 s" / "2 分钟 5 秒": the two largest units. */
export function humanDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(Number(seconds))) {
    return t("evidence.value.open_ended");
  }
  let rest = Math.abs(Number(seconds));
  if (rest === 0) return t("evidence.duration.s", { n: 0 });
  if (rest < 1) return t("evidence.duration.ms", { n: Math.round(rest * 1000) });
  const parts = [];
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["min", 60], ["s", 1]]) {
    if (rest >= size && parts.length < 2) {
      const n = parts.length === 1 || unit === "s" ? Math.round(rest / size) : Math.floor(rest / size);
      parts.push(t(`evidence.duration.${unit}`, { n }));
      rest -= n * size;
      if (rest < 0.5) break;
    } else if (parts.length) {
      break;
    }
  }
  return parts.join(" ");
}

function withUnit(value, unit, fmt) {
  if (value === null || value === undefined) return t("evidence.value.none");
  const text = typeof value === "number" ? fmt.format(value) : String(value);
  const label = unitLabel(unit);
  return label ? `${text} ${label}` : text;
}

function plainValue(value, fmt) {
  if (value === null || value === undefined) return t("evidence.value.none");
  if (typeof value === "boolean") return t(value ? "evidence.value.yes" : "evidence.value.no");
  if (typeof value === "number") return fmt.format(value);
  if (typeof value === "string") return tOptional(`evidence.text.${value}`) ?? value;
  return JSON.stringify(value);
}

/** One field's value as text (nested fields are rendered by fieldList). */
export function fieldText(field, fmt) {
  const v = field.value;
  switch (field.kind) {
    case "metric": return metricLabel(v);
    case "measured": case "quantity": return withUnit(v, field.unit, fmt);
    case "per_hour":
      return v === null ? t("evidence.value.none")
        : t("evidence.value.per_hour", { value: fmt.format(v), unit: unitLabel(field.unit) });
    case "per_hour_range":
      if (!Array.isArray(v)) return plainValue(v, fmt);
      return t("evidence.value.per_hour", {
        value: t("evidence.value.range", { low: fmt.format(v[0]), high: fmt.format(v[1]) }),
        unit: unitLabel(field.unit),
      });
    case "time_ms": return v === null ? t("evidence.value.none") : formatTime(Number(v));
    case "time_iso": return v ? formatTime(v) : t("evidence.value.none");
    case "duration_ms": return v === null ? t("evidence.value.none") : humanDuration(v / 1000);
    case "duration_s": return v === null ? t("evidence.value.none") : humanDuration(v);
    case "duration_h": return v === null ? t("evidence.value.none") : humanDuration(v * 3600);
    case "hours_range":
      if (!Array.isArray(v)) return plainValue(v, fmt);
      return t("evidence.value.range", {
        low: humanDuration(v[0] === null ? null : v[0] * 3600),
        high: humanDuration(v[1] === null ? null : v[1] * 3600),
      });
    case "flag": return plainValue(Boolean(v), fmt);
    case "fault_type": return faultLabel(v);
    case "window": return t("evidence.value.samples", { n: v });
    case "list":
      if (!Array.isArray(v)) return plainValue(v, fmt);
      if (!v.length) return t("evidence.value.none");
      if (v.some((item) => item && typeof item === "object")) return t("evidence.value.items", { n: v.length });
      return v.map((item) => plainValue(item, fmt)).join(", ");
    default: return plainValue(v, fmt);
  }
}

function fieldLabel(field, parent) {
  if (parent === "deviations") return metricLabel(field.key);
  if (parent === "joined") return field.key;
  return tOptional(`evidence.field.${field.key}`) ?? field.key;
}

function fieldList(fields, fmt, parent = "") {
  const dl = document.createElement("dl");
  for (const field of fields) {
    const row = document.createElement("div");
    row.style.display = "contents";
    const dt = document.createElement("dt");
    dt.textContent = fieldLabel(field, parent);
    const dd = document.createElement("dd");
    dd.dataset.field = field.key;
    if (field.children && field.children.length) {
      dd.append(fieldList(field.children, fmt, field.key));
    } else if (field.kind === "list" && Array.isArray(field.value) && field.value.some((i) => i && typeof i === "object")) {
      for (const item of field.value) {
        const nested = Object.entries(item).map(([key, value]) => ({
          key, value, kind: key.endsWith("_ms") ? "time_ms" : typeof value === "boolean" ? "flag" : "text",
        }));
        dd.append(fieldList(nested, fmt, field.key));
      }
    } else {
      dd.textContent = fieldText(field, fmt);
    }
    row.append(dt, dd);
    dl.append(row);
  }
  return dl;
}

function axisName(metrics, units) {
  return metrics.map((m) => metricLabel(m)).join(" / ") + (units ? ` (${unitLabel(units)})` : "");
}

/** The ECharts option for an evidence answer (exported for tests and other pages). */
export function evidenceOption(data, fmt = numberFormat("zh-CN")) {
  const units = [];
  const axisOf = {};
  for (const s of data.series) {
    if (!units.includes(s.unit)) units.push(s.unit);
    axisOf[s.metric] = Math.min(units.indexOf(s.unit), 1);
  }
  const yAxis = (units.length ? units.slice(0, 2) : [""]).map((unit, index) => {
    const metrics = data.series.filter((s) => axisOf[s.metric] === index).map((s) => s.metric);
    const bool = unit === "bool";
    return {
      type: "value",
      name: axisName(metrics, bool ? "" : unit),
      nameTextStyle: { align: index ? "right" : "left" },
      scale: !bool,
      min: bool ? 0 : undefined,
      max: bool ? 1 : undefined,
      interval: bool ? 1 : undefined,
      position: index ? "right" : "left",
      splitLine: { show: index === 0 },
      axisLabel: { formatter: (v) => fmt.format(v) },
    };
  });
  // The axis runs on past now to what is still to come: a verification window waiting
  // for telemetry, a projected crossing and its band.
  let xMax = data.to_ms;
  const p = data.projection;
  if (data.verification) xMax = Math.max(xMax, data.verification.end_ms);
  if (p) xMax = Math.max(xMax, p.latest_ms ?? p.crossing_ms, p.crossing_ms) + 0.05 * (data.to_ms - data.from_ms);
  const series = data.series.map((s, index) => {
    const lines = data.lines.filter((line) => line.metric === s.metric).map((line) => ({
      name: t(`evidence.chart.${line.role}`),
      yAxis: line.value,
      lineStyle: { color: COLORS[line.role], type: line.role === "threshold" ? "dashed" : "dotted", width: 2 },
      label: { formatter: `${t(`evidence.chart.${line.role}`)} ${fmt.format(line.value)}`, position: "insideEndTop" },
    }));
    const item = {
      name: metricLabel(s.metric),
      type: "line",
      yAxisIndex: axisOf[s.metric],
      showSymbol: s.points.length < 60,
      step: s.unit === "bool" ? "end" : false,
      data: s.points,
      color: COLORS.series[index % COLORS.series.length],
      markLine: { symbol: "none", silent: true, data: lines },
    };
    if (index === 0) {
      item.markLine.data.push({
        name: t("evidence.chart.onset"),
        xAxis: data.onset_ms,
        lineStyle: { color: COLORS.onset, type: "solid", width: 2 },
        label: { formatter: t("evidence.chart.onset"), position: "insideEndTop" },
      });
      if (data.rectified_ms !== null && data.rectified_ms !== undefined) {
        item.markLine.data.push({
          name: t("evidence.chart.rectified"),
          xAxis: data.rectified_ms,
          lineStyle: { color: COLORS.baseline, type: "dashed" },
          label: { formatter: t("evidence.chart.rectified"), position: "insideStartTop" },
        });
      }
      const areas = [];
      if (data.verification) {
        const v = data.verification;
        const name = t(v.status === "passed" ? "evidence.chart.verification_passed" : "evidence.chart.verification_waiting");
        areas.push([
          { name, xAxis: v.start_ms, itemStyle: { color: COLORS[v.status] } },
          { xAxis: v.end_ms },
        ]);
      }
      if (p) {
        areas.push([
          { name: t("evidence.chart.projection_band"), xAxis: p.earliest_ms, itemStyle: { color: COLORS.band } },
          { xAxis: p.latest_ms ?? xMax },
        ]);
      }
      item.markArea = { silent: true, label: { position: "insideTop", fontSize: 11, color: "#344054" }, data: areas };
    }
    return item;
  });
  if (data.stored_window.length && data.series.length) {
    series.push({
      name: t("evidence.chart.stored_window"),
      type: "line",
      yAxisIndex: axisOf[data.series[0].metric],
      data: data.stored_window,
      showSymbol: true,
      symbolSize: 5,
      lineStyle: { type: "dashed", width: 1 },
      color: "#475467",
    });
  }
  if (p && data.series.length) {
    series.push({
      name: t("evidence.chart.projection"),
      type: "line",
      yAxisIndex: axisOf[p.metric] ?? 0,
      data: [[p.from_ms, p.from_value], [p.crossing_ms, p.threshold]],
      showSymbol: true,
      lineStyle: { type: "dashed", width: 2 },
      color: COLORS.threshold,
    });
  }
  return {
    aria: { enabled: true },
    animation: false,
    grid: { left: 8, right: 24, top: 56, bottom: 48, containLabel: true },
    legend: { top: 0, type: "scroll" },
    tooltip: {
      trigger: "axis",
      valueFormatter: (v) => (typeof v === "number" ? fmt.format(v) : v),
    },
    dataZoom: [{ type: "inside" }],
    xAxis: {
      type: "time",
      min: data.from_ms,
      max: Math.round(xMax),
      name: t("evidence.chart.time"),
      nameLocation: "middle",
      nameGap: 28,
      axisLabel: { hideOverlap: true, formatter: { hour: "{HH}:{mm}", minute: "{HH}:{mm}", day: "{MM}-{dd}" } },
    },
    yAxis,
    series,
  };
}

function note(text, testid) {
  const p = document.createElement("p");
  p.className = "fm-note";
  p.textContent = text;
  if (testid) p.dataset.testid = testid;
  return p;
}

function heading(key) {
  const h = document.createElement("h3");
  h.textContent = t(key);
  return h;
}

/** Draws ticket `ticket`'s evidence into `element` (its content is replaced). Resolves to
 *  the evidence answer; the chart is `echarts.getInstanceByDom(element.querySelector(
 *  "[data-testid=evidence-chart]"))`. */
export async function renderEvidence(element, ticket, lang = document.documentElement.lang) {
  injectStyle();
  const fmt = numberFormat(lang);
  const previous = element.querySelector("[data-testid=evidence-chart]");
  if (previous && window.echarts) window.echarts.getInstanceByDom(previous)?.dispose();
  element.replaceChildren(note(t("evidence.chart.loading")));
  let data;
  try {
    [data] = await Promise.all([
      api(`/api/tickets/${encodeURIComponent(ticket.id)}/evidence`),
      loadECharts(),
      loadFaultLabels(),
    ]);
  } catch (error) {
    element.replaceChildren(note(t("evidence.chart.error", { message: error.message }), "evidence-error"));
    throw error;
  }
  const section = document.createElement("section");
  section.className = "fm-evidence";
  section.dataset.testid = "evidence";
  section.append(heading("evidence.chart.title"));
  section.append(note(t("evidence.chart.span", { from: formatTime(data.from_ms), to: formatTime(data.to_ms) })));
  const chart = document.createElement("div");
  chart.className = "fm-chart";
  chart.dataset.testid = "evidence-chart";
  chart.setAttribute("role", "img");
  const main = data.series[0]?.metric;
  chart.setAttribute("aria-label", t("evidence.chart.aria", { metric: main ? metricLabel(main) : "" }));
  if (data.telemetry_unavailable) section.append(note(t("evidence.chart.unavailable"), "evidence-unavailable"));
  else if (!data.series.length) section.append(note(t("evidence.chart.no_metric"), "evidence-no-metric"));
  else if (!data.series.some((s) => s.points.length)) section.append(note(t("evidence.chart.no_data"), "evidence-no-data"));
  const averaged = data.series.find((s) => s.averaged_ms)?.averaged_ms;
  if (averaged) section.append(note(t("evidence.chart.averaged", { width: humanDuration(averaged / 1000) })));
  if (data.projection) {
    section.append(note(t("evidence.chart.crossing", { time: formatTime(data.projection.crossing_ms) }), "evidence-crossing"));
  }
  if (data.series.length) section.append(chart);
  section.append(heading("evidence.fields.title"));
  const fields = fieldList(data.fields, fmt);
  fields.dataset.testid = "evidence-fields";
  section.append(fields);
  if (data.verification_fields.length) {
    section.append(heading("evidence.fields.verification"));
    const verification = fieldList(data.verification_fields, fmt);
    verification.dataset.testid = "evidence-verification";
    section.append(verification);
  }
  element.replaceChildren(section);
  if (data.series.length) {
    const echarts = await loadECharts();
    const instance = echarts.init(chart, null, { renderer: "canvas", locale: lang === "en" ? "EN" : "ZH" });
    instance.setOption(evidenceOption(data, fmt));
    new ResizeObserver(() => instance.resize()).observe(chart);
  }
  return data;
}
