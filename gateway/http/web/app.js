// The resident app: the homes I look after (homes.js: each home's state, its incidents, what to do and
// the buttons to act), "I'm away", what happened lately, how I want to be notified (prefs.js), her own
// Home Assistant (homeassistant.js) and push notifications on this phone. Chinese first, English beneath;
// the language switch puts English first.
"use strict";
const G = Guardian, $ = id => document.getElementById(id);
const TEXTS = {
  title: ["燃气卫士", "Gas Guardian"], homes: ["我的家", "My homes"], settings: ["设置", "Settings"],
  history: ["最近发生的事", "What happened lately"], away: ["我不在家", "I'm away"],
  prefs: ["通知设置", "How I am notified"], orders: ["报修与求助", "Report a problem"],
  ha: ["智能家居 Home Assistant", "Smart home: Home Assistant"],
  "away-why": ["外出时打开：家中无人时燃气仍在使用会立即通知您；独居老人的关怀提醒暂停。",
               "On while you are out: gas in use in an empty home alerts you at once; welfare checks pause."],
  push: ["在本机开启报警推送", "Turn on alarm notifications on this phone"],
  phones: ["接收报警的手机", "Phones receiving my alarms"], remove: ["移除", "Remove"],
  "no-phones": ["还没有手机接收推送", "No phone receives push yet"],
  "push-on": ["已开启，报警会推送到本机", "Done: alarms will reach this phone"],
  "push-no": ["此浏览器不支持推送（iPhone 请先添加到主屏幕）", "This browser cannot receive push (iPhone: add to Home Screen first)"],
  "push-denied": ["未允许通知", "Notifications were not allowed"],
  "enroll-first": ["请先登录，或使用物业发给您的登记链接打开本页", "Sign in first, or open this page from your enrolment link"],
};
G.setTexts(TEXTS);
let me = null;
const enrol = new URLSearchParams(location.search).get("enroll") || localStorage.getItem("enroll");
if (enrol) localStorage.setItem("enroll", enrol);

// Static labels in both languages (data-bi="key"), the chosen one first.
function labels() {
  document.querySelectorAll("[data-bi]").forEach(el => {
    const [zh, en] = TEXTS[el.dataset.bi];
    el.replaceChildren(Homes.pair(zh, en));
  });
}

let pending = null;
async function loadHomes() {
  const { cards, past } = await Homes.load(me, onError);
  $("homes").replaceChildren(...cards);
  $("history").replaceChildren(...past);
}
// Live events come in bursts (a leak raises three alarms): one reload for a burst.
function reloadSoon() {
  clearTimeout(pending);
  pending = setTimeout(() => loadHomes().catch(onError), 250);
}
Homes.setRefresh(() => loadHomes().catch(onError));

async function loadPhones() {
  const phones = (await G.get("/api/v1/me/push-subscriptions")).items;
  $("phones-box").classList.remove("hidden");
  $("phones").replaceChildren(...(phones.length ? phones.map(p => G.el("li", { "data-phone": p.id },
    `${p.agent || p.endpoint_host} · ${G.when(p.created)} `,
    G.el("button", { class: "btn small", onclick: async () => {
      await G.call("DELETE", `/api/v1/me/push-subscriptions/${p.id}`).catch(onError);
      await loadPhones();
    } }, G.t("remove")))) : [G.el("li", {}, G.t("no-phones"))]));
}

function onError(e) {
  if (e instanceof G.SignedOut) return page.signedOut();
  $("status").textContent = String(e.message || e);
}

async function showHome(account) {
  me = account;
  $("homes-box").classList.toggle("hidden", !(me.households || []).length);
  $("away").checked = !!me.away;
  await loadHomes();
  await GuardianPrefs.mount($("prefs"), "/api/v1/me/preferences", onError);
  $("orders-box").classList.toggle("hidden", !(me.households || []).length);
  if ((me.households || []).length) await Orders.mount($("orders"), me, onError);
  await HomeAssistant.mount($("ha-box"), $("ha"), me, onError);  // shown only where the API lets her link
  await loadPhones();
  page.watch(reloadSoon, () => loadHomes().catch(onError));
}
// "3 minutes ago" moves on, and a detector's health changes without an alarm: read again every minute.
setInterval(() => { if (me && G.tokens().access) loadHomes().catch(onError); }, 60000);

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

labels();
const page = G.shell({
  main: "home",
  onSignIn: showHome,
  onLang: () => { labels(); if (me) { loadHomes().catch(onError); loadPhones().catch(onError); Orders.refresh(); HomeAssistant.refresh(); } },
  onError,
});
$("away").addEventListener("change", e => G.put("/api/v1/me/away", { away: e.target.checked }).catch(onError));
$("enable").addEventListener("click", () => enablePush().catch(onError));
