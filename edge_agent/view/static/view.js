"use strict";
// The local view: polls /api/state, draws each camera's frame with its detections,
// tracks, lines and zones, and places a counting line from two clicks on the frame.

const POLL_MS = 400;
const SVG = "http://www.w3.org/2000/svg";
const sections = new Map(); // camera name -> {root, placing, points, at, loading}

function svgEl(name, attrs, text) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function showError(message) {
  const box = document.getElementById("error");
  box.textContent = message || "";
  box.hidden = !message;
}

async function send(method, url, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(url, options);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.detail || `${response.status} ${response.statusText}`);
  return data;
}

function nextLineName(camera) {
  const names = new Set(camera.lines.map((l) => l.name));
  for (const l of camera.pending_lines || []) names.add(l.name);
  let i = 1;
  while (names.has(`line${i}`)) i += 1;
  return `line${i}`;
}

function setStatus(entry, text, bad) {
  const status = entry.root.querySelector(".status");
  status.textContent = text;
  status.classList.toggle("bad", Boolean(bad));
}

function setPlacing(entry, on) {
  entry.placing = on;
  entry.points = [];
  entry.root.querySelector(".stage").classList.toggle("placing", on);
  entry.root.querySelector(".cancel").hidden = !on;
  entry.root.querySelector(".place").disabled = on;
  if (on) setStatus(entry, "Click the line's first end, then its second.");
}

function sourcePoint(svg, event) {
  const point = svg.createSVGPoint();
  point.x = event.clientX;
  point.y = event.clientY;
  const p = point.matrixTransform(svg.getScreenCTM().inverse());
  return [Math.round(p.x * 10) / 10, Math.round(p.y * 10) / 10];
}

async function onClick(entry, event) {
  if (!entry.placing) return;
  const svg = entry.root.querySelector("svg.overlay");
  entry.points.push(sourcePoint(svg, event));
  draw(entry);
  if (entry.points.length < 2) return;
  const [start, end] = entry.points;
  const input = entry.root.querySelector(".line-name");
  const name = input.value.trim() || nextLineName(entry.camera);
  setPlacing(entry, false);
  try {
    await send("POST", `/api/cameras/${encodeURIComponent(entry.name)}/lines`, { name, start, end });
    input.value = "";
    setStatus(entry, `Line ${name} saved; it counts from the next interval.`);
    await poll();
  } catch (error) {
    setStatus(entry, `Line not saved: ${error.message}`, true);
  }
}

async function removeLine(entry, line) {
  try {
    await send("DELETE", `/api/cameras/${encodeURIComponent(entry.name)}/lines/${encodeURIComponent(line)}`);
    setStatus(entry, `Line ${line} removed from the next interval on.`);
    await poll();
  } catch (error) {
    setStatus(entry, `Line not removed: ${error.message}`, true);
  }
}

function section(name) {
  let entry = sections.get(name);
  if (entry) return entry;
  const root = document.getElementById("camera-template").content.firstElementChild.cloneNode(true);
  root.dataset.camera = name;
  root.querySelector("h2").textContent = name;
  entry = { name, root, placing: false, points: [], at: null, loading: false, camera: null };
  root.querySelector(".place").addEventListener("click", () => setPlacing(entry, true));
  root.querySelector(".cancel").addEventListener("click", () => {
    setPlacing(entry, false);
    setStatus(entry, "");
  });
  root.querySelector("svg.overlay").addEventListener("click", (event) => onClick(entry, event));
  const img = root.querySelector("img.frame");
  img.addEventListener("load", () => { entry.loading = false; });
  img.addEventListener("error", () => { entry.loading = false; });
  document.getElementById("cameras").append(root);
  sections.set(name, entry);
  return entry;
}

function drawLine(group, line, cls) {
  const [x1, y1] = line.start;
  const [x2, y2] = line.end;
  group.append(svgEl("line", { class: cls, x1, y1, x2, y2, "data-line": line.name }));
  group.append(svgEl("text", { class: "line-label", x: x2 + 4, y: y2 - 4 }, line.name));
}

function draw(entry) {
  const camera = entry.camera;
  const svg = entry.root.querySelector("svg.overlay");
  svg.replaceChildren();
  if (!camera || !camera.width) return;
  svg.setAttribute("viewBox", `0 0 ${camera.width} ${camera.height}`);
  for (const zone of camera.zones) {
    svg.append(svgEl("polygon", { class: "zone", points: zone.polygon.map((p) => p.join(",")).join(" "), "data-zone": zone.name }));
  }
  for (const d of camera.detections) {
    const [x1, y1, x2, y2] = d.box;
    svg.append(svgEl("rect", { class: "det", x: x1, y: y1, width: x2 - x1, height: y2 - y1, "data-class": d.class }));
  }
  for (const t of camera.tracks) {
    const [x1, y1, x2, y2] = t.box;
    svg.append(svgEl("rect", { class: "track", x: x1, y: y1, width: x2 - x1, height: y2 - y1, "data-track": t.id }));
    svg.append(svgEl("text", { class: "track-id", x: x1 + 2, y: y1 + 13 }, `#${t.id} ${t.class}`));
  }
  const active = new Set(camera.lines.map((l) => JSON.stringify(l)));
  for (const line of camera.lines) drawLine(svg, line, "count-line");
  for (const line of camera.pending_lines || []) {
    if (!active.has(JSON.stringify(line))) drawLine(svg, line, "pending-line");
  }
  for (const [x, y] of entry.points) svg.append(svgEl("circle", { class: "mark", cx: x, cy: y, r: 4 }));
}

function render(entry, camera, editable) {
  entry.camera = camera;
  const img = entry.root.querySelector("img.frame");
  const withheld = camera.frame !== "available";
  entry.root.querySelector(".withheld").hidden = !withheld;
  img.hidden = withheld;
  entry.root.dataset.redacted = String(camera.redacted);
  if (!withheld && camera.frame_at !== null && camera.frame_at !== entry.at && !entry.loading) {
    entry.at = camera.frame_at;
    entry.loading = true;
    img.src = `/api/cameras/${encodeURIComponent(camera.name)}/frame.jpg?at=${camera.frame_at}`;
  }
  entry.root.querySelector(".controls").hidden = !editable;
  draw(entry);
  const body = entry.root.querySelector("table.counts tbody");
  body.replaceChildren();
  for (const line of camera.lines) {
    const counts = camera.counts[line.name] || { in: 0, out: 0 };
    const row = document.createElement("tr");
    row.dataset.line = line.name;
    for (const [cls, text] of [["name", line.name], ["in", counts.in], ["out", counts.out]]) {
      const cell = document.createElement("td");
      cell.className = cls;
      cell.textContent = String(text);
      row.append(cell);
    }
    const cell = document.createElement("td");
    if (editable) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "remove";
      button.textContent = "Remove";
      button.addEventListener("click", () => removeLine(entry, line.name));
      cell.append(button);
    }
    row.append(cell);
    body.append(row);
  }
  const pending = camera.pending_lines !== null;
  entry.root.dataset.pending = String(pending);
}

async function poll() {
  try {
    const state = await send("GET", "/api/state");
    document.getElementById("who").textContent = state.local
      ? "On this machine: frames as captured; lines can be placed."
      : "From another host: only shared frames, redacted unless the camera's config says otherwise; read-only.";
    for (const camera of state.cameras) render(section(camera.name), camera, state.editable);
    showError("");
    document.body.dataset.loaded = "true";
  } catch (error) {
    showError(`The agent does not answer: ${error.message}`);
  }
}

poll();
setInterval(poll, POLL_MS);
