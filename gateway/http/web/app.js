// The resident app: my household's status and devices, my alarms with one-tap acknowledge, history, the
// "I'm away" switch, how I want to be notified (prefs.js) and push notifications on this phone. Chinese and
// English.
"use strict";
const G = Guardian, $ = id => document.getElementById(id);
G.setTexts({
  title: ["燃气卫士", "Gas Guardian"],
  active: ["正在进行的报警", "Active alarms"], household: ["我的家", "My home"], settings: ["设置", "Settings"],
  history: ["最近的报警", "Recent alarms"], prefs: ["通知设置", "How I am notified"], away: ["我不在家", "I'm away"],
  "away-why": ["外出时打开：家中无人时燃气仍在使用会立即通知您；独居老人的关怀提醒暂停。",
               "On while you are out: gas in use in an empty home alerts you at once; welfare checks pause."],
  push: ["在本机开启报警推送", "Turn on alarm notifications on this phone"],
  ack: ["我已知晓，正在处理", "I'm on it"], acked: ["已确认：{0}", "Acknowledged by {0}"],
  none: ["没有正在进行的报警", "No active alarms"], protected: ["受保护", "Protected"],
  unprotected: ["未受保护：{0}", "NOT protected: {0}"], devices: ["探测器", "Detectors"],
  "no-history": ["没有报警记录", "No alarms yet"],
  phones: ["接收报警的手机", "Phones receiving my alarms"], remove: ["移除", "Remove"],
  "no-phones": ["还没有手机接收推送", "No phone receives push yet"],
  "push-on": ["已开启，报警会推送到本机", "Done: alarms will reach this phone"],
  "push-no": ["此浏览器不支持推送（iPhone 请先添加到主屏幕）", "This browser cannot receive push (iPhone: add to Home Screen first)"],
  "push-denied": ["未允许通知", "Notifications were not allowed"],
  "enroll-first": ["请先登录，或使用物业发给您的登记链接打开本页", "Sign in first, or open this page from your enrolment link"],
  active_: ["进行中", "active"], acknowledged: ["已确认", "acknowledged"], returned: ["已恢复，待确认", "cleared, not acknowledged"],
  closed: ["已结束", "closed"], resolved: ["已处理", "resolved"],
  ok: ["正常", "ok"], preheat: ["预热", "pre-heating"], low_battery: ["电量低", "low battery"], stuck: ["传感器卡滞", "stuck"],
  end_of_life: ["已到寿命", "end of life"], fault: ["故障", "fault"], silent: ["离线", "silent"],
});
const RULES = {
  "CO-1": ["一氧化碳报警", "Carbon monoxide alarm"], "CO-2": ["一氧化碳持续", "CO persisting"],
  "GAS-1": ["燃气泄漏预警", "Gas leak warning"], "GAS-2": ["燃气泄漏报警", "Gas leak alarm"],
  "HLT-1": ["探测器离线", "Detector silent"], "HLT-2": ["探测器故障", "Detector fault"],
  "WEL-1": ["关怀提醒", "Welfare check"], "WEL-2": ["关怀提醒", "Welfare check"], "WEL-3": ["关怀提醒", "Welfare check"],
};
const ruleName = r => (RULES[r] || [r, r])[G.lang() === "zh" ? 0 : 1];
const stateName = s => G.t(s === "active" ? "active_" : s);
let me = null;
const enrol = new URLSearchParams(location.search).get("enroll") || localStorage.getItem("enroll");
if (enrol) localStorage.setItem("enroll", enrol);

function alarmCard(a, withAck) {
  const card = G.el("div", { class: "alarm " + a.severity, "data-alarm": a.alarm_id },
    G.el("strong", {}, `${a.severity} ${ruleName(a.rule)}`), " ",
    G.el("span", { class: "badge state" }, stateName(a.state)),
    G.el("div", { class: "meta" }, `${a.household || a.building} · ${a.subject} · ${G.when(a.raised_ts)}`));
  if (a.acked_by) card.append(G.el("div", { class: "meta" }, G.t("acked", a.acked_by)));
  if (withAck && !a.acked_ts && a.state !== "closed" && a.state !== "resolved") {
    card.append(G.el("button", { class: "ack", onclick: async ev => {
      ev.target.disabled = true;
      await G.post(`/api/v1/alarms/${encodeURIComponent(a.alarm_id)}/acknowledge`).catch(onError);
      await loadAlarms();
    } }, G.t("ack")));
  }
  return card;
}

async function loadAlarms() {
  const open = (await G.get("/api/v1/alarms?state=open&limit=100")).items;
  $("alarms").replaceChildren(...(open.length ? open.map(a => alarmCard(a, true)) : [G.el("p", {}, G.t("none"))]));
  const all = (await G.get("/api/v1/alarms?limit=20")).items.filter(a => !open.some(o => o.alarm_id === a.alarm_id));
  $("history").replaceChildren(...(all.length ? all.map(a => alarmCard(a, false)) : [G.el("p", {}, G.t("no-history"))]));
}

async function loadPhones() {
  const phones = (await G.get("/api/v1/me/push-subscriptions")).items;
  $("phones-box").classList.remove("hidden");
  $("phones").replaceChildren(...(phones.length ? phones.map(p => G.el("li", { "data-phone": p.id },
    `${p.agent || p.endpoint_host} · ${G.when(p.created)} `,
    G.el("button", { onclick: async () => {
      await G.call("DELETE", `/api/v1/me/push-subscriptions/${p.id}`).catch(onError);
      await loadPhones();
    } }, G.t("remove")))) : [G.el("li", {}, G.t("no-phones"))]));
}

async function loadHome() {
  const cards = [];
  for (const h of me.households || []) {
    const d = await G.get(`/api/v1/sites/${me.site}/households/${h}`);
    const st = d.status.protected === false
      ? G.el("p", { class: "status-bad" }, G.t("unprotected", d.status.reason))
      : G.el("p", { class: "status-ok" }, G.t("protected"));
    const rows = d.devices.map(dev => G.el("tr", {},
      G.el("td", {}, dev.id), G.el("td", {}, G.t(dev.live.health || "ok")),
      G.el("td", { class: "n" }, dev.live.co_ppm == null ? "" : `${dev.live.co_ppm.toFixed(0)} ppm CO`),
      G.el("td", { class: "n" }, dev.live.gas_lel == null ? "" : `${dev.live.gas_lel.toFixed(0)} %LEL`)));
    cards.push(G.el("div", { class: "home" }, G.el("h3", {}, `${d.building} · ${d.id}`), st,
      G.el("table", {}, G.el("caption", {}, G.t("devices")), ...rows)));
  }
  $("households").replaceChildren(...cards);
  $("away").checked = !!me.away;
  await GuardianPrefs.mount($("prefs"), "/api/v1/me/preferences", onError);
  await loadPhones();
}

function onError(e) {
  if (e instanceof G.SignedOut) return page.signedOut();
  $("status").textContent = String(e.message || e);
}

async function showHome(account) {
  me = account;
  $("household-box").classList.toggle("hidden", !(me.households || []).length);
  await loadHome();
  page.watch(() => loadAlarms().catch(onError), () => loadAlarms().catch(onError));
}

function keyBytes(b64) {
  const s = atob(b64.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - b64.length % 4) % 4));
  return Uint8Array.from(s, c => c.charCodeAt(0));
}

async function enablePush() {
  const say = key => { $("status").textContent = G.t(key); };
  if (!G.tokens().access && !enrol) return say("enroll-first");
  if (!("serviceWorker" in navigator) || !("PushManager" in window)) return say("push-no");
  const reg = await navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" });
  if (await Notification.requestPermission() !== "granted") return say("push-denied");
  const { publicKey } = await (await fetch("/api/v1/push/key")).json();
  const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(publicKey) });
  const agent = navigator.userAgent.slice(0, 300);
  if (G.tokens().access) {
    await G.post("/api/v1/me/push-subscriptions", { subscription: sub.toJSON(), agent });
    await loadPhones();
  } else {
    const r = await fetch("/api/v1/push/subscriptions", { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: enrol, subscription: sub.toJSON(), agent }) });
    if (!r.ok) throw new Error(await r.text());
  }
  say("push-on");
}

const page = G.shell({
  main: "home",
  onSignIn: showHome,
  onLang: () => { if (me) { loadAlarms().catch(onError); loadHome().catch(onError); } },
  onError,
});
$("away").addEventListener("change", e => G.put("/api/v1/me/away", { away: e.target.checked }).catch(onError));
$("enable").addEventListener("click", () => enablePush().catch(onError));
