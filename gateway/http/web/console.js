// The control-room console for property staff and grid officers: open incidents (one per hazard in a home,
// its alarms underneath, one acknowledge; alerts/incidents.py groups them) by severity and age, live,
// with a sound for a new P1/P2 and a flashing title for a new P1; a detail view per alarm (evidence, the
// device's readings, who was told and when, comments, assign, acknowledge, resolve with a reason); the
// board by building; welfare checks due; unprotected households; filters by grid and building; the duty
// roster. Names as people use them (rule titles, 3栋2单元1504, people by name), Chinese first.
"use strict";
const G = Guardian, $ = id => document.getElementById(id);
G.setTexts({
  title: ["燃气卫士 控制室", "Gas Guardian control room"],
  open: ["待处理报警", "Open alarms"], board: ["各楼栋", "By building"], building: ["楼栋", "Building"],
  grid: ["网格", "Grid"], "all-grids": ["全部网格", "All grids"], "all-buildings": ["全部楼栋", "All buildings"],
  unacked: ["未确认", "Unacknowledged"], welfare: ["关怀待查", "Welfare due"], "welfare-due": ["关怀待查", "Welfare checks due"],
  unprotected: ["未受保护的住户", "Unprotected households"], household: ["住户", "Household"], why: ["原因", "Why"],
  ack: ["确认", "Acknowledge"], assign: ["指派", "Assign"], "assign-to": ["指派给", "Assign to"],
  details: ["详情", "Details"], close: ["关闭", "Close"], actions: ["操作", "Actions"],
  none: ["没有待处理的报警", "Nothing open"], "none-unprotected": ["所有住户都受保护", "Every household is protected"],
  "unknown-unprotected": ["此处无法得知哪些住户未受保护 (由规则引擎实例掌握)", "Which households are unprotected is not known here (the rule engine's owner keeps it)"],
  "none-welfare": ["没有待查的关怀", "No welfare check due"],
  escalation: ["已升级 {0} 级", "escalated {0}×"], assigned: ["负责人：{0}", "assigned: {0}"],
  "acked-by": ["已确认：{0}", "acknowledged by {0}"], raised: ["报警时间 {0}", "raised {0}"], ago: ["{0} 前", "{0} ago"],
  active: ["进行中", "active"], acknowledged: ["已确认", "acknowledged"], returned: ["已恢复，待确认", "cleared, unacknowledged"],
  closed: ["已恢复", "cleared"], resolved: ["已结案", "resolved"],
  "not-staff": ["此页面供物业和网格员使用", "This page is for property staff and grid officers"],
  "sound-on": ["提示音：开", "Sound: on"], "sound-off": ["提示音：关", "Sound: off"],
  "role-officer": ["网格员", "grid officer"], "role-property": ["物业", "property"], "role-maintenance": ["维修", "maintenance"],
  "role-admin": ["管理员", "admin"], s: ["{0} 秒", "{0} s"], min: ["{0} 分钟", "{0} min"], h: ["{0} 小时", "{0} h"],
  "new-p1": ["【新P1报警】", "[NEW P1] "],
  chart: ["设备读数", "Device readings"], evidence: ["触发依据", "What triggered it"], timeline: ["通知记录", "Who was told"],
  recipient: ["接收人", "Recipient"], channel: ["渠道", "Channel"], sent: ["已发送", "Sent"],
  delivered: ["已送达/已接听", "Delivered / answered"], acked: ["已确认", "Acknowledged"],
  comments: ["处置记录", "Log"], comment: ["备注", "Comment"], "add-comment": ["添加备注", "Add comment"],
  resolve: ["结案", "Resolve"], "resolve-reason": ["结案原因（查明了什么、做了什么）", "Reason (what was found and done)"],
  "still-present": ["险情仍在：先处置并等报警恢复后再结案", "The condition is still present: make safe first, resolve once it clears"],
  "no-readings": ["没有读数", "No readings"], "no-deliveries": ["尚无通知", "Nobody told yet"],
  gas_lel: ["燃气浓度", "Gas"], co_ppm: ["一氧化碳", "CO"], "raised-mark": ["报警", "raised"],
  progress: ["进度", "Progress"], queued: ["排队", "queued"], "answered-at": ["已接听", "answered"], "delivered-at": ["已送达", "delivered"],
  "failed-at": ["失败", "failed"], broadcast: ["广播（报警器/系统）", "broadcast (sirens, systems)"],
  "st-standby": ["备用渠道待命", "standby"], "st-queued": ["等待发送", "waiting"], "st-merged": ["已并入汇总", "merged"], "st-cancelled": ["已取消", "cancelled"],
  "a-R": ["住户", "resident"], "a-EC": ["紧急联系人", "emergency contact"], "a-GO": ["网格员", "grid officer"], "a-PM": ["物业", "property"], "a-MT": ["维修", "maintenance"],
  "ch-webpush": ["手机推送", "phone push"], "ch-aliyun-sms": ["短信", "SMS"], "ch-aliyun-voice": ["语音电话", "voice call"],
  "ch-wechat": ["微信", "WeChat"], "ch-wecom-app": ["企业微信", "WeCom"], "ch-mqtt": ["报警器", "siren"], "ch-webhook": ["Webhook", "webhook"],
  "k-raised": ["报警", "raised"], "k-acknowledged": ["确认", "acknowledged"], "k-cleared": ["恢复", "cleared"],
  "k-comment": ["备注", "comment"], "k-assigned": ["指派", "assigned"], "k-resolved": ["结案", "resolved"],
  "e-reading": ["读数", "reading"], "e-event": ["设备事件", "device event"], "e-deadline": ["超时", "deadline"],
  "e-household": ["住户", "household"], "e-system": ["系统", "system"], dose: ["剂量", "dose"], mean_ppm: ["平均浓度", "mean"],
  cohb_pct: ["碳氧血红蛋白", "COHb"], lel_per_min: ["上升速率", "rise per min"], battery_pct: ["电量", "battery"],
  "k-escalated": ["升级", "escalated"], "by-system": ["系统", "the system"], "k-closed": ["关闭", "closed"],
  roster: ["值班表", "Duty roster"], "on-duty": ["当前值班", "On duty now"], coming: ["近期班次", "Coming shifts"],
  duty: ["岗位", "Duty"], who: ["值班人员", "On duty"], from: ["开始", "From"], to: ["结束", "To"], note: ["备注", "Note"],
  person: ["人员", "Person"],
  "add-shift": ["添加班次", "Add shift"], "hand-over": ["交班", "Hand over"], remove: ["删除", "Delete"],
  officer: ["网格员 {0}", "grid {0} officers"], property: ["物业控制室", "property control room"],
  maintenance: ["维修", "maintenance"], everyone: ["（未排班，通知全部）", "(nobody rostered: all are told)"],
  "none-coming": ["未来七天没有班次", "No shifts in the coming week"],
  "same-incident": ["同一险情的其他报警", "Other alarms of this incident"],
});
let me = null;
const staffBySite = {}, gridsBySite = {}, buildingsBySite = {};
const chosen = {};  // alarm id -> the assignee picked on its card but not yet assigned
let rosterSite = null, rosterPeople = [];
let ticking = null;
let seen = null;    // alarm ids already shown: a new P1/P2 among the next load sounds
let openAlarm = null;  // the alarm id the detail view shows
const store = window.localStorage;
const zh = () => G.lang() === "zh";
const SEV = { P1: 0, P2: 1, P3: 2, P4: 3 };

// -- sound and the title flash: a new P1/P2 sounds (switchable, remembered), a new P1 flashes the title --
let audio = null;
const soundOn = () => store.getItem("sound") !== "off";
function showSound() {
  $("sound").textContent = G.t(soundOn() ? "sound-on" : "sound-off");
  $("sound").setAttribute("aria-pressed", String(soundOn()));
}
$("sound").addEventListener("click", () => { store.setItem("sound", soundOn() ? "off" : "on"); showSound(); if (soundOn()) chime("P2"); });
function chime(severity) {
  if (!soundOn()) return;
  document.body.dataset.chimes = String(Number(document.body.dataset.chimes || 0) + 1);
  document.body.dataset.lastChime = severity;
  try {
    audio = audio || new (window.AudioContext || window.webkitAudioContext)();
    if (audio.state === "suspended") audio.resume();
    const pulses = severity === "P1" ? 3 : 1, t0 = audio.currentTime + 0.05;
    for (let i = 0; i < pulses; i++) {
      const osc = audio.createOscillator(), gain = audio.createGain();
      osc.type = "square";
      osc.frequency.setValueAtTime(severity === "P1" ? 988 : 784, t0 + i * 0.45);
      osc.frequency.setValueAtTime(severity === "P1" ? 740 : 587, t0 + i * 0.45 + 0.18);
      gain.gain.setValueAtTime(0.0001, t0 + i * 0.45);
      gain.gain.exponentialRampToValueAtTime(0.25, t0 + i * 0.45 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + i * 0.45 + 0.36);
      osc.connect(gain).connect(audio.destination);
      osc.start(t0 + i * 0.45); osc.stop(t0 + i * 0.45 + 0.4);
    }
  } catch (e) { console.warn("no sound", e); }
}
const baseTitle = () => G.t("title");
let flashing = null;
function flash() {
  if (flashing) return;
  let on = false;
  flashing = setInterval(() => { on = !on; document.title = on ? G.t("new-p1") + baseTitle() : baseTitle(); }, 900);
  document.title = G.t("new-p1") + baseTitle();
}
function stopFlash() { if (flashing) { clearInterval(flashing); flashing = null; } document.title = baseTitle(); }
document.addEventListener("click", stopFlash);
document.addEventListener("keydown", stopFlash);

// -- filters -------------------------------------------------------------------------------------------
const filter = () => ({ grid: $("f-grid").value, building: $("f-building").value });
function inFilter(site, building) {
  const f = filter();
  if (f.building) return building === f.building;
  if (!f.grid) return true;
  const b = (buildingsBySite[site] || []).find(x => x.id === building);
  return !!b && `${site}/${b.grid}` === f.grid;
}
function fillFilters(sites) {
  const keep = { grid: $("f-grid").value || store.getItem("f-grid") || "", building: $("f-building").value || store.getItem("f-building") || "" };
  const grids = sites.flatMap(s => (gridsBySite[s] || []).map(g => [`${s}/${g.id}`, g.name || g.id]));
  $("f-grid").replaceChildren(G.el("option", { value: "" }, G.t("all-grids")), ...grids.map(([v, n]) => G.el("option", { value: v }, n)));
  $("f-grid").value = grids.some(([v]) => v === keep.grid) ? keep.grid : "";
  const g = $("f-grid").value;
  const blds = sites.flatMap(s => (buildingsBySite[s] || []).filter(b => !g || `${s}/${b.grid}` === g));
  $("f-building").replaceChildren(G.el("option", { value: "" }, G.t("all-buildings")), ...blds.map(b => G.el("option", { value: b.id }, b.name || b.id)));
  $("f-building").value = blds.some(b => b.id === keep.building) ? keep.building : "";
}
for (const id of ["f-grid", "f-building"]) {
  $(id).addEventListener("change", () => {
    if (id === "f-grid") $("f-building").value = "";
    store.setItem("f-grid", $("f-grid").value); store.setItem("f-building", $("f-building").value);
    refresh().catch(onError);
  });
}

// -- the alarm list ------------------------------------------------------------------------------------
const title = a => zh() ? a.title_zh : a.title;
const roleName = role => G.t("role-" + role) === "role-" + role ? role : G.t("role-" + role);
const personName = id => { const p = rosterPeople.find(x => x.id === id); return p && p.name ? p.name : id; };
const where = a => (zh() ? a.place_zh : a.place) || a.household || a.subject;
const staffName = (site, username) => {
  const s = (staffBySite[site] || []).find(x => x.username === username);
  return s ? (s.name || s.username) : username;
};
function age(ts) {
  const s = Math.max(0, Date.now() / 1000 - ts);
  const text = s < 90 ? G.t("s", Math.round(s)) : s < 5400 ? G.t("min", Math.round(s / 60)) : G.t("h", (s / 3600).toFixed(1));
  return G.t("ago", text);
}
const bySeverityAndAge = (x, y) => (SEV[x.severity] - SEV[y.severity]) || (y.raised_ts - x.raised_ts);

function assignControls(a, select) {
  select.replaceChildren(G.el("option", { value: "" }, "—"),
    ...(staffBySite[a.site] || []).map(s => G.el("option", { value: s.username }, `${s.name || s.username}（${roleName(s.role)}）`)));
  select.value = chosen[a.alarm_id] ?? (a.assignee || "");
}
async function doAssign(a, username) {
  await G.post(`/api/v1/alarms/${encodeURIComponent(a.alarm_id)}/assign`, { assignee: username || null });
  delete chosen[a.alarm_id];
}
async function doAck(a) { await G.post(`/api/v1/alarms/${encodeURIComponent(a.alarm_id)}/acknowledge`); }
async function doAckIncident(id) { await G.post(`/api/v1/incidents/${encodeURIComponent(id)}/acknowledge`); }

// An incident's other open alarms, under its worst: each rule and its evidence stays its own detail view.
function members(rest) {
  return G.el("div", { class: "members" }, G.el("div", { class: "meta" }, G.t("same-incident")),
    G.el("ul", {}, ...rest.map(a => G.el("li", { "data-alarm": a.alarm_id },
      G.el("span", { class: "m-sev" }, a.severity), " ", title(a), " ", G.el("span", { class: "badge m-state" }, G.t(a.state)), " ",
      G.el("button", { type: "button", class: "member-open secondary", "aria-label": `${G.t("details")}: ${title(a)}`,
        onclick: () => openDetail(a.alarm_id).catch(onError) }, G.t("details"))))));
}

// Open alarms grouped by the incidents the API draws, in the order of their worst alarm.
function grouped(open, incidents) {
  const incidentOf = {};
  for (const i of incidents) for (const m of i.alarms) incidentOf[m.alarm_id] = i.incident_id;
  const groups = new Map();
  for (const a of open) {
    const key = incidentOf[a.alarm_id] || a.alarm_id;
    if (!groups.has(key)) groups.set(key, { incident: incidentOf[a.alarm_id] || null, alarms: [] });
    groups.get(key).alarms.push(a);
  }
  return [...groups.values()];
}

function card(a, rest = [], incident = null) {
  const meta = [G.when(a.raised_ts) + "（" + age(a.raised_ts) + "）"];
  if (a.escalation) meta.push(G.t("escalation", a.escalation));
  if (a.assignee) meta.push(G.t("assigned", staffName(a.site, a.assignee)));
  if (a.acked_by) meta.push(G.t("acked-by", a.acked_by_name || a.acked_by));
  const attrs = { class: "alarm " + a.severity, "data-alarm": a.alarm_id, "aria-label": `${a.severity} ${title(a)} ${where(a)}` };
  if (incident) attrs["data-incident"] = incident;
  const c = G.el("article", attrs,
    G.el("div", { class: "line1" }, G.el("span", { class: "sev" }, a.severity), " ",
      G.el("strong", { class: "title" }, title(a)), " ", G.el("span", { class: "badge state" }, G.t(a.state))),
    G.el("div", { class: "where" }, where(a)),
    G.el("div", { class: "meta" }, meta.join(" · ")));
  if (rest.length) c.append(members(rest));
  const buttons = G.el("div", { class: "buttons" });
  if (!a.acked_ts || rest.some(m => !m.acked_ts)) {
    buttons.append(G.el("button", { type: "button", class: "ack", onclick: async ev => {
      ev.target.disabled = true;
      await (incident ? doAckIncident(incident) : doAck(a)).catch(onError);
      await refresh();
    } }, G.t("ack")));
  }
  buttons.append(G.el("button", { type: "button", class: "open secondary", onclick: () => openDetail(a.alarm_id).catch(onError) }, G.t("details")));
  const who = G.el("select", { class: "assignee", "aria-label": `${G.t("assign-to")}: ${title(a)}` });
  assignControls(a, who);
  who.addEventListener("change", () => { chosen[a.alarm_id] = who.value; });  // kept across a live refresh
  buttons.append(who, G.el("button", { type: "button", class: "assign secondary", onclick: async () => {
    await doAssign(a, who.value).catch(e => alert(e.message));
    await refresh();
  } }, G.t("assign")));
  c.append(buttons);
  return c;
}

async function refresh() {
  const sites = me.site ? [me.site] : (await G.get("/api/v1/sites")).items.map(s => s.id);
  for (const site of sites) {
    if (!staffBySite[site]) staffBySite[site] = (await G.get(`/api/v1/sites/${site}/staff?limit=500`)).items;
    if (!gridsBySite[site]) gridsBySite[site] = (await G.get(`/api/v1/sites/${site}/grids?limit=500`)).items;
    buildingsBySite[site] = (await G.get(`/api/v1/sites/${site}/buildings?limit=500`)).items;
  }
  fillFilters(sites);
  const [listed, incidents] = await Promise.all([G.get("/api/v1/alarms?state=open&limit=500"), G.get("/api/v1/incidents")]);
  const all = listed.items.sort(bySeverityAndAge);
  const open = all.filter(a => inFilter(a.site, a.building));
  const fresh = seen ? all.filter(a => !seen.has(a.alarm_id)) : [];
  seen = new Set(all.map(a => a.alarm_id));
  const loud = fresh.filter(a => a.severity === "P1" || a.severity === "P2").sort(bySeverityAndAge);
  if (loud.length) chime(loud[0].severity);
  if (fresh.some(a => a.severity === "P1")) flash();
  const groups = grouped(open, incidents);
  $("alarms").replaceChildren(...(groups.length ? groups.map(g => card(g.alarms[0], g.alarms.slice(1), g.incident))
    : [G.el("p", {}, G.t("none"))]));
  const welfare = open.filter(a => a.family === "welfare");
  $("welfare").replaceChildren(...(welfare.length ? welfare.map(a => card(a)) : [G.el("p", {}, G.t("none-welfare"))]));
  const board = [], unprotected = [];
  let unknown = false;  // no rules behind this API (a district's replica): never "every household is protected"
  for (const site of sites) {
    for (const b of buildingsBySite[site].filter(b => inFilter(site, b.id))) {
      board.push(G.el("tr", { "data-building": b.id }, G.el("th", { scope: "row" }, b.name || b.id),
        ...b.open_alarms.map((n, i) => G.el("td", { class: "n" + (n && i < 2 ? " hot" : "") }, String(n)))));
    }
    const listed = await G.get(`/api/v1/sites/${site}/households?unprotected=true&limit=500`).catch(e => {
      if (e.status !== 503) throw e;
      unknown = true;
      return { items: [] };
    });
    for (const h of listed.items) {
      if (!inFilter(site, h.building)) continue;
      unprotected.push(G.el("tr", { "data-household": h.id }, G.el("td", {}, (zh() ? h.place_zh : h.place) || h.id),
        G.el("td", {}, (zh() ? h.status.reason_zh : h.status.reason) || h.status.reason)));
    }
  }
  await roster(sites);
  await ConsoleOrders.load(sites);
  $("board").tBodies[0].replaceChildren(...board);
  $("unprotected").tBodies[0].replaceChildren(...(unprotected.length ? unprotected
    : [G.el("tr", {}, G.el("td", { colspan: "2" }, G.t(unknown ? "unknown-unprotected" : "none-unprotected")))]));
  if (openAlarm && $("detail").open) await fillDetail(openAlarm);
}

// -- the detail view -----------------------------------------------------------------------------------
const hhmmss = ts => ts ? new Date(ts * 1000).toLocaleTimeString(zh() ? "zh-CN" : "en-GB") : "—";
const UNITS = { gas_lel: "%LEL", co_ppm: "ppm" };

function evidenceItem(e) {
  const parts = Object.entries(e).filter(([k, v]) => k !== "kind" && k !== "msg_id" && v !== null && k !== "ts")
    .map(([k, v]) => `${G.t(k) === k ? k : G.t(k)} ${typeof v === "number" ? Math.round(v * 100) / 100 : v}${UNITS[k] ? " " + UNITS[k] : ""}`);
  const kind = G.t("e-" + e.kind) === "e-" + e.kind ? e.kind : G.t("e-" + e.kind);
  return G.el("li", {}, (e.ts ? hhmmss(e.ts) + " · " : "") + `${kind}${zh() ? "：" : ": "}` + parts.join(zh() ? "，" : ", "));
}

async function fillDetail(id) {
  const path = `/api/v1/alarms/${encodeURIComponent(id)}`;
  const [a, ev, rd, tl] = await Promise.all([G.get(path), G.get(path + "/evidence"), G.get(path + "/readings"), G.get(path + "/notifications")]);
  if (openAlarm !== id) return;
  const d = $("detail");
  d.dataset.alarm = id;
  d.className = "detail " + a.severity;
  $("d-title").textContent = `${a.severity} ${title(a)}`;
  $("d-where").textContent = where(a);
  const meta = [G.t(a.state), G.t("raised", G.when(a.raised_ts))];
  if (a.assignee) meta.push(G.t("assigned", staffName(a.site, a.assignee)));
  if (a.acked_by) meta.push(G.t("acked-by", a.acked_by_name || a.acked_by));
  if (a.escalation) meta.push(G.t("escalation", a.escalation));
  $("d-meta").textContent = meta.join(" · ");
  $("d-action").textContent = zh() ? a.action_zh : a.action;
  $("d-ack").classList.toggle("hidden", !!a.acked_ts || !["active", "returned"].includes(a.state));
  $("d-ack").onclick = async () => { await doAck(a).catch(onError); await refresh(); await fillDetail(id); };
  if (document.activeElement !== $("d-assignee")) assignControls(a, $("d-assignee"));
  $("d-assign").onclick = async () => {
    await doAssign(a, $("d-assignee").value).catch(e => alert(e.message));
    await refresh(); await fillDetail(id);
  };
  const charts = ["gas_lel", "co_ppm"].map(f => GuardianChart.line({ rows: rd.readings, field: f, unit: UNITS[f], label: G.t(f),
    window: rd.window, mark: a.raised_ts, markLabel: G.t("raised-mark") })).filter(Boolean);
  $("d-chart").replaceChildren(...(charts.length ? charts : [G.el("p", {}, rd.readings_error || G.t("no-readings"))]));
  const once = [...new Map(ev.trigger.map(e => [JSON.stringify(e), e])).values()];  // a rule may repeat what it saw
  $("d-evidence").replaceChildren(...once.map(evidenceItem));
  $("d-timeline").tBodies[0].replaceChildren(...(tl.items.length ? tl.items.map(n => G.el("tr", { "data-channel": n.channel },
    G.el("td", {}, n.audience === "-" ? G.t("broadcast") : `${n.recipient_name || n.recipient}（${G.t("a-" + n.audience) === "a-" + n.audience ? n.audience : G.t("a-" + n.audience)}）`),
    G.el("td", {}, G.t("ch-" + n.channel) === "ch-" + n.channel ? n.channel : G.t("ch-" + n.channel), n.address ? G.el("br") : "", n.address),
    G.el("td", { class: "progress" }, ...progress(n))))
    : [G.el("tr", {}, G.el("td", { colspan: "3" }, G.t("no-deliveries")))]));
  $("d-history").replaceChildren(...a.history.map(h => G.el("li", { "data-kind": h.kind },
    `${hhmmss(h.ts)} · ${G.t("k-" + h.kind) === "k-" + h.kind ? h.kind : G.t("k-" + h.kind)} · ${h.by_name || h.by || G.t("by-system")}`
    + (h.note ? `：${h.kind === "assigned" ? staffName(a.site, h.note) : h.note}` : ""))));
  const present = a.state === "active" || a.state === "acknowledged";
  $("d-resolve").classList.toggle("hidden", a.state === "resolved");
  $("d-resolve").querySelector("button").disabled = present;
  $("d-resolve-hint").textContent = present ? G.t("still-present") : "";
}

function progress(n) {
  const steps = [["queued", n.queued_at], ["sent", n.sent_at], n.answered_at ? ["answered-at", n.answered_at] : ["delivered-at", n.delivered_at],
    ["failed-at", n.failed_at], ["acked", n.acked_at]].filter(([, ts]) => ts);
  const out = steps.map(([k, ts]) => G.el("span", { class: "step " + k }, `${G.t(k)} ${hhmmss(ts)}`));
  if (!n.sent_at && !n.failed_at) out.push(G.el("span", { class: "step" }, G.t("st-" + n.state) === "st-" + n.state ? n.state : G.t("st-" + n.state)));
  return out;
}

async function openDetail(id) {
  openAlarm = id;
  stopFlash();
  $("d-error").textContent = "";
  await fillDetail(id);
  if (!$("detail").open) $("detail").showModal();
}
$("d-close").addEventListener("click", () => $("detail").close());
$("detail").addEventListener("close", () => { openAlarm = null; });
$("d-comment").addEventListener("submit", async ev => {
  ev.preventDefault();
  const id = openAlarm, f = ev.target;
  await G.post(`/api/v1/alarms/${encodeURIComponent(id)}/comments`, { text: f.elements.text.value }).catch(onError);
  f.reset();
  await fillDetail(id);
});
$("d-resolve").addEventListener("submit", async ev => {
  ev.preventDefault();
  const id = openAlarm, f = ev.target;
  try {
    await G.post(`/api/v1/alarms/${encodeURIComponent(id)}/resolve`, { note: f.elements.note.value });
    f.reset();
    $("d-error").textContent = "";
  } catch (e) {
    if (e instanceof G.SignedOut) return page.signedOut();
    $("d-error").textContent = e.message;
  }
  await refresh().catch(onError);
  await fillDetail(id);
});

// -- the duty roster -----------------------------------------------------------------------------------
const canEdit = () => me.role === "property" || me.role === "admin";
const dutyName = (role, grid) => role === "officer" ? G.t("officer", grid) : G.t(role);
const localTime = iso => iso.slice(0, 16).replace("T", " ");  // the site's own local time, as the API gives it

function handOver(s) {
  const to = G.el("select", { class: "hand-to", "aria-label": G.t("hand-over") },
    ...rosterPeople.filter(p => p.role === s.role && (p.grid || null) === s.grid && p.id !== s.person)
      .map(p => G.el("option", { value: p.id }, p.name ? `${p.name} (${p.id})` : p.id)));
  return [to, G.el("button", { class: "hand-over", onclick: async () => {
    await G.post(`/api/v1/sites/${s.site}/duty/shifts/${s.id}/hand-over`, { to: to.value }).catch(e => alert(e.message));
    await refresh();
  } }, G.t("hand-over"))];
}

async function roster(sites) {
  rosterSite = sites[0] || null;
  if (!rosterSite) return;
  const site = rosterSite;
  rosterPeople = (await G.get(`/api/v1/sites/${site}/duty/people?limit=500`)).items;
  const now = await G.get(`/api/v1/sites/${site}/duty/now`);
  $("on-duty").tBodies[0].replaceChildren(...now.map(d => {
    const mine = d.shifts.filter(s => canEdit() || (me.role === "officer" && s.person === me.person));
    return G.el("tr", { "data-duty": d.grid || d.role },
      G.el("td", {}, dutyName(d.role, d.grid)),
      G.el("td", { class: "people" }, d.on_duty.map(personName).join(", ") + (d.rostered ? "" : " " + G.t("everyone"))),
      G.el("td", {}, ...mine.flatMap(handOver)));
  }));
  const shifts = (await G.get(`/api/v1/sites/${site}/duty/shifts?limit=500`)).items;
  $("shifts").tBodies[0].replaceChildren(...(shifts.length ? shifts.map(s => G.el("tr", { "data-shift": String(s.id) },
    G.el("td", {}, dutyName(s.role, s.grid)), G.el("td", {}, personName(s.person)),
    G.el("td", {}, localTime(s.start)), G.el("td", {}, localTime(s.end)), G.el("td", {}, s.note),
    G.el("td", {}, ...(canEdit() ? [G.el("button", { class: "remove", onclick: async () => {
      await G.del(`/api/v1/sites/${site}/duty/shifts/${s.id}`).catch(e => alert(e.message));
      await refresh();
    } }, G.t("remove"))] : []))))
    : [G.el("tr", {}, G.el("td", { colspan: "6" }, G.t("none-coming")))]));
  const form = $("add-shift");
  form.classList.toggle("hidden", !canEdit());
  const choice = form.elements.person, kept = choice.value;
  choice.replaceChildren(...rosterPeople.map(p => G.el("option", { value: `${p.role}|${p.grid || ""}|${p.id}` },
    `${dutyName(p.role, p.grid)}: ${p.name ? `${p.name} (${p.id})` : p.id}`)));
  if (kept) choice.value = kept;
}

$("add-shift").addEventListener("submit", async ev => {
  ev.preventDefault();
  const f = ev.target.elements, [role, grid, person] = f.person.value.split("|");
  try {
    await G.post(`/api/v1/sites/${rosterSite}/duty/shifts`,
      { role, grid: grid || null, person, start: f.start.value, end: f.end.value, note: f.note.value });
    $("shift-error").textContent = "";
    ev.target.reset();
  } catch (e) {
    if (e instanceof G.SignedOut) return page.signedOut();
    $("shift-error").textContent = e.message;
  }
  await refresh().catch(onError);
});

function onError(e) {
  if (e instanceof G.SignedOut) return page.signedOut();
  console.error(e);
}

function showConsole(account) {
  if (account.role === "resident") { $("signin-error").textContent = G.t("not-staff"); return false; }
  me = account;
  $("who").textContent = `${me.name || me.username}（${roleName(me.role)}）`;
  $("sound").classList.remove("hidden");
  showSound();
  let pending = null;  // a burst of transitions reloads once
  page.watch(() => { pending = pending || setTimeout(() => { pending = null; refresh().catch(onError); }, 200); },
    () => refresh().catch(onError));
  // what no alarm transition announces (a detector gone faulty leaves a home unprotected) is reread each minute
  if (!ticking) ticking = setInterval(() => { if (me && !$("console").classList.contains("hidden")) refresh().catch(onError); }, 60000);
  return true;
}

const page = G.shell({ main: "console", onSignIn: showConsole, onError, onLang: () => {
  document.title = baseTitle();
  if (me) { showSound(); refresh().catch(onError); }
} });
document.title = baseTitle();
$("signout").addEventListener("click", () => { $("who").textContent = ""; $("sound").classList.add("hidden"); seen = null; });
