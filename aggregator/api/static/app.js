// fieldproof dashboard: plain JavaScript, inline SVG charts and the vendored Leaflet map;
// nothing is fetched from elsewhere unless a map tile URL is configured.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const PALETTE = ["#2463eb", "#e8590c", "#0d9488", "#9333ea", "#ca8a04", "#db2777", "#4b5563", "#65a30d"];
const REFRESH_MS = 5000;
const state = { devices: [], selected: null, info: null, owners: {}, busy: false };

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, text) {
  const node = tag === "svg" || ["line", "circle", "path", "text", "g", "rect", "polyline", "title"].includes(tag)
    ? document.createElementNS(SVG, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  const key = localStorage.getItem("fieldproof-api-key");
  if (key) headers["X-API-Key"] = key;
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail || detail; } catch (e) { /* not JSON */ }
    const error = new Error(detail);
    error.status = response.status;
    throw error;
  }
  return response.json();
}

function short(hex, n = 6) { return hex ? `${hex.slice(0, n + 2)}…${hex.slice(-4)}` : "—"; }
function deviceLabel(d) { return d.name || short(d.device); }
function fmtTime(t) { return t == null ? "—" : new Date(t * 1000).toISOString().slice(0, 16).replace("T", " "); }
function fmtClock(t) { return new Date(t * 1000).toISOString().slice(11, 16); }
function ago(t) {
  if (t == null) return "never";
  const s = Math.round(Date.now() / 1000 - t);
  if (s < 0) return "just now";
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}
function tokens(wei) {
  if (wei == null) return "—";
  const v = BigInt(wei);
  const whole = v / 10n ** 18n;
  const frac = (v % 10n ** 18n).toString().padStart(18, "0").slice(0, 4);
  return `${whole.toLocaleString("en")}.${frac}`;
}
function showError(message) {
  const box = $("error");
  box.hidden = !message;
  box.textContent = message || "";
}
function colourOf(index) { return PALETTE[index % PALETTE.length]; }

// The newest time the data reaches: charts end there, so a quiet network still shows
// its last readings instead of an empty window.
function dataNow() {
  const seen = state.devices.map((d) => d.last_seen).filter((t) => t != null);
  return Math.ceil(Math.max(Date.now() / 1000, ...seen) / 60) * 60 + 60;
}

// ---------------------------------------------------------------------------- map
// Leaflet draws the map. With a tile URL (from /v1/info) it fetches that base layer;
// without one (offline mode) the same markers stand on a plain background.
const STATE_COLOURS = { online: "#16a34a", stale: "#d97706", offline: "#9aa5b1", unknown: "#ffffff" };
const map = { view: null, layer: null, markers: {}, fitted: null };

// online, stale (its last word was "online" but it has since gone quiet), offline, unknown.
function deviceState(d) {
  if (d.online) return "online";
  if (d.state === "online") return "stale";
  return d.state === "offline" ? "offline" : "unknown";
}

function devicePath(device) { return `#/devices/${device}`; }

function createMap() {
  const view = L.map("map", { zoomSnap: 0.5, worldCopyJump: true });
  const base = (state.info && state.info.map) || {};
  if (base.tile_url) {
    L.tileLayer(base.tile_url, { attribution: base.attribution, maxZoom: base.max_zoom }).addTo(view);
  } else {
    $("map").classList.add("offline");
    view.attributionControl.addAttribution("offline: no base map");
  }
  L.control.scale().addTo(view);
  map.view = view;
  map.layer = L.layerGroup().addTo(view);
}

function deviceMarker(d, status) {
  const marker = L.circleMarker([d.location.lat, d.location.lon], {
    radius: 8, weight: 2, fillOpacity: 1,
    color: status === "unknown" ? "#64748b" : "#ffffff",
    fillColor: STATE_COLOURS[status],
    className: `device-marker state-${status}`,
  });
  marker.bindTooltip(`${deviceLabel(d)} · ${status}`);
  marker.on("click", () => { location.hash = devicePath(d.device); });
  marker.addTo(map.layer);
  marker.getElement().dataset.device = d.device;
  return marker;
}

// Markers are kept between refreshes and replaced only when a device moves or changes
// state, so a click is never lost to a redraw.
function placeMarkers(placed) {
  const current = new Set();
  for (const d of placed) {
    const status = deviceState(d);
    const key = `${status}|${d.location.lat}|${d.location.lon}|${deviceLabel(d)}`;
    current.add(d.device);
    const old = map.markers[d.device];
    if (old && old.key === key) continue;
    if (old) map.layer.removeLayer(old.marker);
    map.markers[d.device] = { key, marker: deviceMarker(d, status) };
  }
  for (const [device, old] of Object.entries(map.markers)) {
    if (!current.has(device)) { map.layer.removeLayer(old.marker); delete map.markers[device]; }
  }
}

// Frame the devices once, and again only when the set of located devices changes, so
// the refresh does not undo the reader's panning and zooming.
function frameMap(placed) {
  const points = placed.map((d) => [d.location.lat, d.location.lon]);
  const signature = JSON.stringify(points);
  if (map.fitted === signature) return;
  map.fitted = signature;
  if (!points.length) map.view.setView([20, 0], 2);
  else if (points.length === 1) map.view.setView(points[0], 13);
  else map.view.fitBounds(points, { padding: [30, 30], maxZoom: 15 });
}

function renderUnplaced(missing) {
  const box = $("unplaced");
  box.hidden = !missing.length;
  const links = missing.map((d) => el("a", { href: devicePath(d.device), "data-device": d.device }, deviceLabel(d)));
  box.replaceChildren("Not on the map (no location known): ", ...links.flatMap((a, i) => (i ? [", ", a] : [a])));
}

function renderMap() {
  if (!map.view) createMap();
  const placed = state.devices.filter((d) => d.location);
  const missing = state.devices.filter((d) => !d.location);
  frameMap(placed); // Leaflet draws layers once the map has a view
  placeMarkers(placed);
  renderUnplaced(missing);
  $("device-count").textContent = `${state.devices.length} known` + (missing.length ? ` · ${missing.length} without a location` : "");
}

// ------------------------------------------------------------------------- health
const BADGES = { online: "ok", stale: "warn", offline: "off", unknown: "off" };

function stateBadge(d) {
  const status = deviceState(d);
  return el("span", { class: `badge ${BADGES[status]}` }, status);
}

function renderHealth() {
  const body = $("health").querySelector("tbody");
  body.replaceChildren();
  for (const d of state.devices) {
    const h = d.health || {};
    // Agents report fps per camera; the device's figure is their sum.
    const cameras = Array.isArray(h.cameras) ? h.cameras.filter((c) => c.fps != null) : [];
    const fps = h.fps ?? (cameras.length ? cameras.reduce((sum, c) => sum + Number(c.fps), 0) : null);
    const gpu = h.gpu ?? h.gpu_percent ?? h.gpu_load_percent;
    const outbox = h.outbox_depth ?? h.outbox;
    const row = el("tr", { "data-device": d.device, class: d.device === state.selected ? "selected" : "" });
    const name = el("td");
    name.append(el("a", { href: devicePath(d.device) }, deviceLabel(d)), el("div", { class: "muted mono" }, short(d.device)));
    const stateCell = el("td"); stateCell.append(stateBadge(d));
    row.append(name, stateCell,
      el("td", { class: "num" }, fps != null ? Number(fps).toFixed(1) : "—"),
      el("td", { class: "num" }, gpu != null ? String(gpu) : "—"),
      el("td", { class: "num" }, outbox != null ? String(outbox) : "—"),
      el("td", { class: "num" }, d.last_seq != null ? String(d.last_seq) : "—"),
      el("td", { title: fmtTime(d.last_seen) }, ago(d.last_seen)));
    row.addEventListener("click", () => select(d.device));
    body.append(row);
  }
}

// ------------------------------------------------------------------------- charts
function drawChart(box, series, { unit = "", integer = false } = {}) {
  const width = 800, height = 240, left = 48, right = 24, top = 10, bottom = 26;
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none" });
  const all = series.flatMap((s) => s.points);
  if (!all.length) {
    svg.append(el("text", { class: "empty", x: width / 2, y: height / 2, "text-anchor": "middle" }, "No data in this window"));
    box.replaceChildren(svg);
    return 0;
  }
  let [t0, t1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  let [v0, v1] = [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
  if (t0 === t1) { t0 -= 60; t1 += 60; }
  if (integer) {
    // Counts: from zero up to a multiple of 4 whole steps, so every grid line is a count.
    v0 = Math.min(0, v0);
    v1 = v0 + 4 * Math.max(1, Math.ceil((v1 * 1.1 - v0) / 4));
  } else {
    const margin = (v1 - v0) * 0.1 || 1;
    v0 -= v0 === 0 ? 0 : margin; v1 += margin;
  }
  const x = (t) => left + (t - t0) / (t1 - t0) * (width - left - right);
  const y = (v) => top + (v1 - v) / (v1 - v0) * (height - top - bottom);
  for (let i = 0; i <= 4; i++) {
    const v = v0 + (v1 - v0) * i / 4;
    svg.append(el("line", { class: "gridline", x1: left, x2: width - right, y1: y(v), y2: y(v) }));
    svg.append(el("text", { class: "tick", x: left - 6, y: y(v) + 3, "text-anchor": "end" }, (integer ? Math.round(v) : v.toFixed(1)) + unit));
  }
  let previous = "";
  for (let i = 0; i <= 5; i++) {
    const t = t0 + (t1 - t0) * i / 5;
    const label = fmtClock(t);
    if (label === previous) continue;
    previous = label;
    svg.append(el("text", { class: "tick", x: x(t), y: height - 8, "text-anchor": "middle" }, label));
  }
  svg.append(el("line", { class: "axis", x1: left, x2: width - right, y1: height - bottom, y2: height - bottom }));
  let drawn = 0;
  for (const s of series) {
    const pts = s.points.slice().sort((a, b) => a[0] - b[0]);
    svg.append(el("polyline", {
      points: pts.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" "),
      fill: "none", stroke: s.color, "stroke-width": 2, "vector-effect": "non-scaling-stroke",
    }));
    if (pts.length <= 400) {
      for (const p of pts) {
        const c = el("circle", { class: "pt", cx: x(p[0]), cy: y(p[1]), r: 2.5, fill: s.color });
        c.append(el("title", {}, `${s.label} · ${fmtTime(p[0])} · ${p[1]}`));
        svg.append(c);
        drawn++;
      }
    }
  }
  box.replaceChildren(svg);
  return drawn;
}

function legend(box, series) {
  box.replaceChildren(...series.map((s) => { const span = el("span", { style: `--c:${s.color}` }, s.label); return span; }));
}

function bucketFor(range) {
  return range <= 900 ? "15s" : range <= 3600 ? "1m" : range <= 21600 ? "5m" : range <= 86400 ? "15m" : "1h";
}

async function renderEnvironment() {
  const metric = $("metric").value;
  if (!metric) { drawChart($("env-chart"), []); return; }
  const range = Number($("range").value), agg = $("agg").value;
  const end = dataNow(), start = end - range;
  const params = new URLSearchParams({ metric, start, end, limit: 10000 });
  if (agg !== "raw") { params.set("every", bucketFor(range)); params.set("agg", agg); }
  const data = await api(`/v1/series?${params}`);
  const names = Object.fromEntries(state.devices.map((d) => [d.device, deviceLabel(d)]));
  const order = state.devices.map((d) => d.device);
  const by = {};
  for (const p of data.points) (by[p.device] = by[p.device] || []).push([p.time, p.value]);
  const series = Object.keys(by).sort((a, b) => order.indexOf(a) - order.indexOf(b))
    .map((device) => ({ label: names[device] || short(device), color: colourOf(order.indexOf(device)), points: by[device] }));
  const unit = metric.endsWith("temp") ? "°" : "";
  drawChart($("env-chart"), series, { unit });
  legend($("env-legend"), series);
}

async function renderTraffic() {
  const range = Number($("range").value);
  const end = dataNow(), start = end - range;
  const params = new URLSearchParams({ start, end, every: bucketFor(range), limit: 10000 });
  const data = await api(`/v1/traffic?${params}`);
  const sums = {};
  for (const r of data.rows) {
    const key = `${r.line} · ${r.class} ${r.direction}`;
    const series = (sums[key] = sums[key] || {});
    series[r.time] = (series[r.time] || 0) + r.value;
  }
  // Lines and classes that saw nothing in the window would only crowd the legend; when
  // nothing at all was counted, the zeros are shown (a camera that saw no one is data).
  const seen = (label) => Object.values(sums[label]).some((v) => v > 0);
  const labels = Object.keys(sums).sort();
  const series = (labels.some(seen) ? labels.filter(seen) : labels)
    .map((label, i) => ({
      label, color: colourOf(i + 3), points: Object.entries(sums[label]).map(([t, v]) => [Number(t), v]),
    }));
  drawChart($("traffic-chart"), series, { integer: true });
  legend($("traffic-legend"), series);
}

// ------------------------------------------------------------------------- epochs
function emptyRow(body, span, text) {
  const row = el("tr");
  row.append(el("td", { colspan: span, class: "muted" }, text));
  body.append(row);
}

async function renderEpochs() {
  const body = $("epochs").querySelector("tbody");
  if (!state.info.epochs) {
    body.replaceChildren();
    emptyRow(body, 7, "This API has no anchor state.");
    return;
  }
  const data = await api("/v1/epochs?limit=50");
  body.replaceChildren();
  for (const e of data.items) {
    const status = e.status === "done" ? ["ok", "anchored"] : e.status === "anchored" ? ["ok", "anchored"]
      : e.status === "empty" ? ["off", "empty"] : ["warn", e.status];
    const statusCell = el("td", { title: e.status === "done" ? "root anchored, rewards published" : e.status });
    statusCell.append(el("span", { class: `badge ${status[0]}` }, status[1]));
    const row = el("tr");
    row.append(
      el("td", { class: "num" }, String(e.epoch)),
      el("td", { title: `${fmtTime(e.start)} – ${fmtTime(e.end)}` }, `${fmtTime(e.start).slice(5)}–${fmtClock(e.end)}`),
      el("td", { class: "num" }, String(e.count)),
      el("td", { class: "mono", title: e.root || "" }, short(e.root, 4)),
      el("td", { class: "mono", title: e.anchor_tx || "" }, short(e.anchor_tx, 4)),
      el("td", { class: "mono", title: e.uri || "" }, e.cid ? `${e.cid.slice(0, 8)}…${e.cid.slice(-4)}` : "—"),
      statusCell);
    body.append(row);
  }
  if (!data.items.length) emptyRow(body, 7, "No epoch has closed yet.");
}

// ------------------------------------------------------------------------- verify
function fillDeviceSelect() {
  const select = $("verify-device");
  const current = select.value;
  select.replaceChildren(...state.devices.filter((d) => d.last_seq != null)
    .map((d) => el("option", { value: d.device }, `${deviceLabel(d)} (${short(d.device, 4)})`)));
  if (state.selected && [...select.options].some((o) => o.value === state.selected)) select.value = state.selected;
  else if (current) select.value = current;
}

async function fillSeqSelect() {
  const device = $("verify-device").value;
  const select = $("verify-seq");
  if (!device) { select.replaceChildren(); return; }
  const data = await api(`/v1/devices/${device}/reports?limit=50`);
  select.replaceChildren(...data.items.map((r) => el("option", { value: r.seq },
    `seq ${r.seq} · ${fmtTime(r.start)}` + (r.anchored ? ` · epoch ${r.epoch}` : " · not anchored yet"))));
  const anchored = data.items.find((r) => r.anchored);
  if (anchored) select.value = String(anchored.seq);
}

function showSteps(box, result, title) {
  box.dataset.ok = String(result.ok);
  const verdict = el("div", { class: `verdict ${result.ok ? "ok" : "bad"}` },
    result.ok ? `✓ ${title}: verified` : `✗ ${title}: verification failed`);
  const list = el("ul", { class: "steps" });
  for (const s of result.steps) {
    const li = el("li");
    li.append(el("span", { class: `mark ${s.ok ? "ok" : "bad"}` }, s.ok ? "✓" : "✗"), el("span", {}, s.name), el("span", { class: "detail" }, s.detail));
    list.append(li);
  }
  box.replaceChildren(verdict, list);
}

// The CBOR encodings a number may have (half, single, double float), as byte strings.
function cborFloats(value) {
  const out = [];
  const f64 = new DataView(new ArrayBuffer(8));
  f64.setFloat64(0, value);
  out.push([0xfb, ...new Uint8Array(f64.buffer)]);
  const f32 = new DataView(new ArrayBuffer(4));
  f32.setFloat32(0, value);
  if (f32.getFloat32(0) === value) {
    out.push([0xfa, ...new Uint8Array(f32.buffer)]);
    const bits = f32.getUint32(0);
    const exp = ((bits >>> 23) & 0xff) - 127 + 15, mant = bits & 0x7fffff;
    if (exp > 0 && exp < 31 && (mant & 0x1fff) === 0) {
      const half = ((bits >>> 16) & 0x8000) | (exp << 10) | (mant >>> 13);
      out.push([0xf9, half >> 8, half & 0xff]);
    }
  }
  return out;
}

// Index of the last byte of ``value``'s encoding inside the signed payload, or -1.
function findNumber(bytes, value) {
  const end = bytes.length - 66; // the payload ends where the signature (2 + 64 bytes) starts
  for (const pattern of cborFloats(value)) {
    for (let i = end - pattern.length; i >= 0; i--) {
      if (pattern.every((b, j) => bytes[i + j] === b)) return i + pattern.length - 1;
    }
  }
  return -1;
}

async function runVerify(tampered) {
  const device = $("verify-device").value, seq = $("verify-seq").value;
  if (!device || !seq) return;
  const box = $("verify-result");
  box.dataset.ok = "";
  box.replaceChildren(el("div", { class: "muted" }, "Verifying…"));
  try {
    if (!tampered) {
      showSteps(box, await api(`/v1/verify/${device}/${seq}`), `seq ${seq}`);
      return;
    }
    const [report, proof] = await Promise.all([api(`/v1/reports/${device}/${seq}`), api(`/v1/proofs/${device}/${seq}`)]);
    const bytes = Uint8Array.from(atob(report.cose), (c) => c.charCodeAt(0));
    const reading = report.decoded.records.find((r) => typeof r.value === "number");
    const at = reading ? findNumber(bytes, reading.value) : -1;
    // Change that reading's last bit (as someone editing a value would); without one,
    // change the signature's last byte.
    bytes[at >= 0 ? at : bytes.length - 1] ^= 0x01;
    const cose = btoa(String.fromCharCode(...bytes));
    const result = await api("/v1/verify", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ report: cose, proof }),
    });
    showSteps(box, result, `tampered copy of seq ${seq}`);
  } catch (error) {
    box.dataset.ok = "false";
    box.replaceChildren(el("div", { class: "verdict bad" }, `✗ ${error.message}`));
  }
}

// ------------------------------------------------------------------------ rewards
function rewardTotals(r) {
  const totals = el("div", { class: "totals" });
  for (const [label, value] of [["Earned (cumulative)", r.cumulative], ["Claimed", r.claimed], ["Claimable", r.claimable]]) {
    const t = el("div", { class: "total" }); t.append(el("span", { class: "muted" }, label), el("b", {}, tokens(value))); totals.append(t);
  }
  return totals;
}

function rewardTable(r) {
  const table = el("table", { class: "table" });
  table.append(el("thead")); table.tHead.append(el("tr"));
  for (const h of ["Epoch", "Amount", "Cumulative", "Reward root tx"]) table.tHead.rows[0].append(el("th", {}, h));
  const body = el("tbody");
  for (const line of r.epochs.items.slice().reverse()) {
    const row = el("tr");
    row.append(el("td", { class: "num" }, String(line.epoch)), el("td", { class: "num" }, tokens(line.amount)),
      el("td", { class: "num" }, tokens(line.cumulative)), el("td", { class: "mono", title: line.reward_tx || "" }, short(line.reward_tx)));
    body.append(row);
  }
  table.append(body);
  const scroll = el("div", { class: "scroll" });
  scroll.append(table);
  return scroll;
}

function claimDetails(r) {
  if (!r.claim) return el("div", { class: "muted" }, "No reward root includes this owner yet.");
  const details = el("details");
  details.append(el("summary", {}, `Claim proof (epoch ${r.claim.epoch} root ${short(r.claim.root)})`),
    el("pre", {}, JSON.stringify({ owner: r.owner, cumulative: r.claim.cumulative, proof: r.claim.proof }, null, 2)));
  return details;
}

// An owner's rewards into ``box``: totals, amounts per epoch and the claim proof.
async function showRewards(box, owner) {
  try {
    const r = await api(`/v1/rewards/${owner}?limit=100`);
    box.replaceChildren(rewardTotals(r), rewardTable(r), claimDetails(r));
  } catch (error) {
    box.replaceChildren(el("div", { class: "verdict bad" }, error.message));
  }
}

async function renderRewards() {
  const owner = $("owner").value.trim();
  const box = $("rewards");
  if (!owner) { box.replaceChildren(el("div", { class: "muted" }, "Select a registered device, or enter an owner address.")); return; }
  await showRewards(box, owner);
}

// -------------------------------------------------------------------- device page
// One device at #/devices/<id>: identity, health, series, recent reports with their
// verification, and its owner's rewards.
const page = { device: null, summary: null };

function fact(list, label, value, attrs = {}) {
  list.append(el("dt", {}, label));
  const dd = el("dd", attrs);
  if (value instanceof Node) dd.append(value); else dd.textContent = value;
  list.append(dd);
}

function renderIdentity(d) {
  $("dev-title").textContent = deviceLabel(d);
  const list = $("dev-identity");
  list.replaceChildren();
  fact(list, "Name", d.name || "—");
  fact(list, "Device id", d.device, { class: "mono", "data-field": "device" });
  fact(list, "Owner", d.owner || "not registered on-chain", { class: "mono", "data-field": "owner" });
  const where = d.location ? `${d.location.lat.toFixed(5)}, ${d.location.lon.toFixed(5)}` : "unknown";
  fact(list, "Location", where, { "data-field": "location" });
  fact(list, "State", stateBadge(d), { "data-field": "state" });
  fact(list, "Last seen", d.last_seen == null ? "never" : `${ago(d.last_seen)} (${fmtTime(d.last_seen)} UTC)`);
  fact(list, "Last seq", d.last_seq == null ? "—" : String(d.last_seq));
}

function healthValue(value) {
  if (value === null || typeof value !== "object") return String(value);
  return JSON.stringify(value);
}

function renderDeviceHealth(d) {
  const list = $("dev-health");
  list.replaceChildren();
  $("dev-health-at").textContent = d.health_at == null ? "" : `reported ${ago(d.health_at)}`;
  const entries = Object.entries(d.health || {});
  if (!entries.length) list.append(el("dd", { class: "muted" }, "No heartbeat received."));
  for (const [key, value] of entries) fact(list, key, healthValue(value), { class: "mono" });
}

function renderReadings(d) {
  const body = $("dev-readings").querySelector("tbody");
  body.replaceChildren();
  $("dev-latest").textContent = d.latest_report ? `seq ${d.latest_report.seq} · ${fmtTime(d.latest_report.start)} UTC` : "";
  for (const r of d.readings || []) {
    const row = el("tr");
    row.append(el("td", { class: "mono" }, r.name), el("td", { class: "num" }, r.value == null ? "—" : String(r.value)),
      el("td", {}, r.unit || ""));
    body.append(row);
  }
  if (!(d.readings || []).length) emptyRow(body, 3, "No report stored yet.");
}

async function fillDeviceMetrics(d) {
  const { metrics } = await api("/v1/catalog");
  const own = (d.readings || []).filter((r) => typeof r.value === "number").map((r) => r.name);
  const names = [...new Set([...own, ...metrics])];
  const select = $("dev-metric");
  select.replaceChildren(...names.map((m) => el("option", { value: m }, m)));
  select.value = own.find((m) => m.endsWith("temp")) || own[0] || names[0] || "";
}

async function renderDeviceSeries() {
  const d = page.summary, metric = $("dev-metric").value;
  if (!d || !metric || d.last_seen == null) { drawChart($("dev-chart"), []); return; }
  const range = Number($("dev-range").value);
  const end = Math.ceil(d.last_seen / 60) * 60 + 60, start = end - range;
  const params = new URLSearchParams({ metric, device: d.device, start, end, limit: 10000 });
  if (range > 3600) { params.set("every", bucketFor(range)); params.set("agg", "mean"); }
  const data = await api(`/v1/series?${params}`);
  const points = data.points.map((p) => [p.time, p.value]);
  drawChart($("dev-chart"), points.length ? [{ label: metric, color: colourOf(0), points }] : []);
}

async function verifyReport(device, seq) {
  const box = $("dev-verify-result");
  box.dataset.ok = "";
  box.dataset.seq = String(seq);
  box.replaceChildren(el("div", { class: "muted" }, `Verifying seq ${seq}…`));
  try {
    showSteps(box, await api(`/v1/verify/${device}/${seq}`), `seq ${seq}`);
  } catch (error) {
    box.dataset.ok = "false";
    box.replaceChildren(el("div", { class: "verdict bad" }, `✗ seq ${seq}: ${error.message}`));
  }
}

async function renderDeviceReports(device) {
  const data = await api(`/v1/devices/${device}/reports?limit=20`);
  const body = $("dev-reports").querySelector("tbody");
  body.replaceChildren();
  for (const r of data.items) {
    const button = el("button", { class: "verify", "data-seq": r.seq }, "Verify");
    button.addEventListener("click", () => verifyReport(device, r.seq));
    const action = el("td"); action.append(button);
    const row = el("tr", { "data-seq": r.seq });
    row.append(el("td", { class: "num" }, String(r.seq)),
      el("td", {}, `${fmtTime(r.start)}–${fmtClock(r.end)}`),
      el("td", { title: fmtTime(r.received_at) }, ago(r.received_at)),
      el("td", { class: "num", title: r.anchored ? "anchored on-chain" : "its epoch is still open" },
        r.epoch == null ? "open" : String(r.epoch)),
      action);
    body.append(row);
  }
  if (!data.items.length) emptyRow(body, 5, "No report stored yet.");
}

// ------------------------------------------------------------------ explanations
// Why each of an owner's devices earned what it earned in one epoch: every factor and
// every flag with its reason, from /v1/rewards/<owner>/explain.
const SEVERITY = { zero: ["bad", "zeroed it"], reduces: ["warn", "lowered it"], info: ["off", "note"] };

function pct(ppm) { return ppm == null ? "—" : `${(Number(ppm) / 10000).toFixed(1)} %`; }

function explainFactors(entry) {
  const list = el("dl", { class: "facts factors" });
  const rows = [
    ["coverage", "Coverage", pct(entry.coveragePpm), "share of the epoch its reports cover"],
    ["quality", "Quality", pct(entry.qualityPpm), "share of its readings that pass the server's range, stuck and spike checks"],
    ["consistency", "Neighbour consistency", pct(entry.consistencyPpm), "agreement with the devices in the cells around it"],
    ["score", "Score", pct(entry.scorePpm), "coverage × quality × consistency"],
  ];
  if (entry.selfQcPpm != null) rows.push(["self-qc", "Own quality score", pct(entry.selfQcPpm), "reported by the device: shown, not paid"]);
  for (const [key, label, value, why] of rows) {
    list.append(el("dt", { title: why }, label));
    list.append(el("dd", { "data-factor": key, title: why }, value));
  }
  return list;
}

function explainFlags(entry) {
  if (!entry.flags.length) return el("div", { class: "muted flags-none" }, "No rule fired for this device.");
  const list = el("ul", { class: "flags" });
  for (const f of entry.flags) {
    const [badge, what] = SEVERITY[f.severity] || ["off", f.severity];
    const item = el("li", { "data-flag": f.code, "data-severity": f.severity });
    item.append(el("span", { class: `badge ${badge}`, title: what }, f.code), " ", el("span", { class: "reason" }, f.reason));
    list.append(item);
  }
  return list;
}

function explainDevice(entry, current) {
  const earned = Number(entry.weight) > 0;
  const zero = entry.flags.find((f) => f.severity === "zero");
  const block = el("article", { class: `explain-device ${earned ? "earned" : "unpaid"}`, "data-device": entry.device, "data-earned": String(earned) });
  const head = el("div", { class: "explain-head" });
  const name = entry.device === current ? el("b", { class: "mono" }, `${short(entry.device)} (this device)`)
    : el("a", { class: "mono", href: devicePath(entry.device) }, short(entry.device));
  const verdict = earned ? `earned ${tokens(entry.amount)}` : zero ? `earned nothing: ${zero.reason}` : "earned nothing";
  head.append(name, el("span", { class: "verdict-line" }, verdict));
  block.append(head, explainFactors(entry), explainFlags(entry));
  return block;
}

// ``box`` gets the explanation of ``owner``'s epoch ``epoch`` (the latest when null).
async function showExplanation(box, owner, epoch, current) {
  const query = epoch == null ? "" : `?epoch=${epoch}`;
  try {
    const r = await api(`/v1/rewards/${owner}/explain${query}`);
    box.dataset.epoch = String(r.epoch);
    const summary = el("div", { class: "explain-summary" }, `Epoch ${r.epoch}: the owner earned ${tokens(r.amount)} from ${r.devices.length} device(s).`);
    if (r.version !== 2) { box.replaceChildren(summary, ...r.text.map((t) => el("p", { class: "muted" }, t))); return; }
    box.replaceChildren(summary, ...r.devices.map((entry) => explainDevice(entry, current)));
  } catch (error) {
    box.dataset.epoch = epoch == null ? "" : String(epoch);
    box.replaceChildren(el("div", { class: "muted" }, error.status === 404 ? error.message : `Could not explain: ${error.message}`));
  }
}

async function renderDeviceExplain(d) {
  const box = $("dev-explain"), select = $("dev-explain-epoch");
  delete box.dataset.ready;
  if (!d.owner) {
    select.replaceChildren();
    box.replaceChildren(el("div", { class: "muted" }, "Not registered on-chain: nothing to explain."));
    box.dataset.ready = "true";
    return;
  }
  let epochs = [];
  try { epochs = (await api(`/v1/rewards/${d.owner}?limit=100`)).epochs.items.map((line) => line.epoch); } catch (e) { /* shown below */ }
  select.replaceChildren(...epochs.slice().reverse().map((n) => el("option", { value: String(n) }, `epoch ${n}`)));
  const show = async () => {
    delete box.dataset.ready;
    await showExplanation(box, d.owner, select.value === "" ? null : Number(select.value), d.device);
    box.dataset.ready = "true";
  };
  select.onchange = show;
  await show();
}

async function renderDeviceRewards(d) {
  const box = $("dev-rewards");
  if (!d.owner) {
    box.replaceChildren(el("div", { class: "muted" }, "Not registered on-chain: this device earns no rewards."));
    return;
  }
  box.replaceChildren(el("div", { class: "muted mono" }, `owner ${d.owner}`));
  const holder = el("div");
  box.append(holder);
  await showRewards(holder, d.owner);
}

async function loadDevicePage(device) {
  page.device = device;
  page.summary = null;
  delete document.body.dataset.device;
  for (const id of ["dev-identity", "dev-health", "dev-chart", "dev-verify-result", "dev-rewards", "dev-explain", "dev-explain-epoch"]) $(id).replaceChildren();
  $("dev-reports").querySelector("tbody").replaceChildren();
  $("dev-title").textContent = short(device);
  try {
    const d = await api(`/v1/devices/${device}`);
    if (page.device !== device) return;
    page.summary = d;
    renderIdentity(d); renderDeviceHealth(d); renderReadings(d);
    await fillDeviceMetrics(d);
    await Promise.all([renderDeviceSeries(), renderDeviceReports(device), renderDeviceRewards(d),
      renderDeviceExplain(d), loadDevices()]);
    showError("");
    document.body.dataset.device = device;
  } catch (error) {
    showError(error.status === 404 ? `No device ${device} is known.` : `Could not load the device: ${error.message}`);
  }
}

// The periodic refresh on a device page: state and health only, so a verification
// shown below stays put.
async function refreshDevicePage() {
  if (!page.summary) return;
  const d = await api(`/v1/devices/${page.device}`);
  page.summary = d;
  renderIdentity(d); renderDeviceHealth(d);
}

// --------------------------------------------------------------------------- flow
function routeDevice() {
  const match = location.hash.match(/^#\/devices\/(0x[0-9a-fA-F]{64})$/);
  return match ? match[1].toLowerCase() : null;
}

async function showRoute() {
  const device = routeDevice();
  $("overview").hidden = Boolean(device);
  $("device-page").hidden = !device;
  window.scrollTo(0, 0);
  if (device) { await loadDevicePage(device); return; }
  page.device = null;
  if (map.view) { map.view.invalidateSize(); map.fitted = null; }
  await refresh();
}

async function select(device) {
  state.selected = device;
  renderHealth(); fillDeviceSelect();
  await fillSeqSelect().catch((e) => showError(e.message));
  const d = state.devices.find((x) => x.device === device);
  if (d && d.owner) { $("owner").value = d.owner; renderRewards(); }
}

async function loadDevices() {
  const data = await api("/v1/devices?limit=10000");
  state.devices = data.items;
  const online = state.devices.filter((d) => d.online).length;
  $("summary").textContent = `${state.devices.length} devices · ${online} online`;
  // Leaflet measures its box when it draws: the map waits while its page is hidden.
  if (!$("overview").hidden) { renderMap(); renderHealth(); }
}

async function loadCatalog() {
  const { metrics } = await api("/v1/catalog");
  // Readings only: traffic counts have three parts, and sensor or camera bookkeeping
  // (sample counts, uptime, dropped frames) is health, not environment.
  const bookkeeping = new Set(["samples", "bad_frames", "uptime", "offline", "frames",
    "dropped_frames", "motion_skipped"]);
  const environmental = metrics.filter((m) => m.split("/").length !== 3
    && !bookkeeping.has(m.split("/").pop()));
  const select = $("metric");
  const current = select.value;
  select.replaceChildren(...environmental.map((m) => el("option", { value: m }, m)));
  if (environmental.includes(current)) select.value = current;
  else select.value = environmental.find((m) => m.endsWith("/temp")) || environmental[0] || "";
}

async function refreshOverview() {
  await loadDevices();
  await loadCatalog();
  await Promise.all([renderEnvironment(), renderTraffic(), renderEpochs()]);
  document.body.dataset.loaded = "true";
  if (!state.selected && state.devices.length) {
    const first = state.devices.find((d) => d.owner) || state.devices[0];
    await select(first.device);
  }
}

async function refresh() {
  if (state.busy) return;
  state.busy = true;
  try {
    // Where keys are required, /v1/info answers only once a key is entered.
    if (!state.info.map) state.info = await api("/v1/info");
    if (routeDevice()) { await loadDevices(); await refreshDevicePage(); } else await refreshOverview();
    showError("");
    $("updated").textContent = `updated ${new Date().toISOString().slice(11, 19)} UTC`;
  } catch (error) {
    showError(error.status === 401 ? `${error.message} — enter an API key above.` : `Could not load data: ${error.message}`);
  } finally {
    state.busy = false;
  }
}

async function start() {
  try {
    state.info = await api("/v1/info");
  } catch (error) {
    state.info = { epochs: true, require_keys: true };
  }
  if (state.info.require_keys) $("key-box").hidden = false;
  $("api-key").value = localStorage.getItem("fieldproof-api-key") || "";
  $("api-key").addEventListener("change", (e) => { localStorage.setItem("fieldproof-api-key", e.target.value.trim()); refresh(); });
  for (const id of ["metric", "range", "agg"]) $(id).addEventListener("change", () => { renderEnvironment(); renderTraffic(); });
  for (const id of ["dev-metric", "dev-range"]) $(id).addEventListener("change", () => renderDeviceSeries().catch((e) => showError(e.message)));
  $("verify-device").addEventListener("change", () => fillSeqSelect().catch((e) => showError(e.message)));
  $("verify-btn").addEventListener("click", () => runVerify(false));
  $("tamper-btn").addEventListener("click", () => runVerify(true));
  $("owner-btn").addEventListener("click", renderRewards);
  window.addEventListener("hashchange", showRoute);
  renderRewards();
  await showRoute();
  setInterval(refresh, REFRESH_MS);
}

start();
