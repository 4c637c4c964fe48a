// The control-room console for property staff and grid officers: open alarms by severity with acknowledge and
// assign, escalation state, the board by building, welfare checks due, unprotected households. Live.
"use strict";
const G = Guardian, $ = id => document.getElementById(id);
G.setTexts({
  title: ["燃气卫士 控制室", "Gas Guardian control room"],
  open: ["待处理报警", "Open alarms"], board: ["各楼栋", "By building"], building: ["楼栋", "Building"],
  unacked: ["未确认", "Unacknowledged"], welfare: ["关怀待查", "Welfare due"], "welfare-due": ["关怀待查", "Welfare checks due"],
  unprotected: ["未受保护的住户", "Unprotected households"], household: ["住户", "Household"], why: ["原因", "Why"],
  ack: ["确认", "Acknowledge"], assign: ["指派", "Assign"], "assign-to": ["指派给（用户名）", "Assign to (username)"],
  none: ["没有待处理的报警", "Nothing open"], "none-unprotected": ["所有住户都受保护", "Every household is protected"],
  escalation: ["已升级 {0} 级", "escalated {0}×"], assigned: ["负责人：{0}", "assigned: {0}"],
  "acked-by": ["已确认：{0}", "acknowledged by {0}"],
  active: ["进行中", "active"], acknowledged: ["已确认", "acknowledged"], returned: ["已恢复，待确认", "cleared, unacknowledged"],
  "not-staff": ["此页面供物业和网格员使用", "This page is for property staff and grid officers"],
});
let me = null;
const staffBySite = {};

function row(a) {
  const meta = [`${a.building || "—"} · ${a.household || a.subject}`, G.when(a.raised_ts)];
  if (a.escalation) meta.push(G.t("escalation", a.escalation));
  if (a.assignee) meta.push(G.t("assigned", a.assignee));
  if (a.acked_by) meta.push(G.t("acked-by", a.acked_by));
  const card = G.el("div", { class: "alarm " + a.severity, "data-alarm": a.alarm_id },
    G.el("strong", {}, `${a.severity} ${a.rule}`), " ", G.el("span", { class: "badge state" }, G.t(a.state)),
    " ", G.el("span", { class: "meta" }, meta.join(" · ")), " ");
  const id = encodeURIComponent(a.alarm_id);
  if (!a.acked_ts) {
    card.append(G.el("button", { class: "ack", onclick: async ev => {
      ev.target.disabled = true;
      await G.post(`/api/v1/alarms/${id}/acknowledge`).catch(onError);
      await refresh();
    } }, G.t("ack")), " ");
  }
  const who = G.el("select", { class: "assignee", "aria-label": G.t("assign-to") },
    G.el("option", { value: "" }, "—"),
    ...(staffBySite[a.site] || []).map(s => G.el("option", { value: s.username }, `${s.name || s.username} (${s.role})`)));
  who.value = a.assignee || "";
  card.append(who, G.el("button", { class: "assign", onclick: async () => {
    await G.post(`/api/v1/alarms/${id}/assign`, { assignee: who.value || null }).catch(e => alert(e.message));
    await refresh();
  } }, G.t("assign")));
  return card;
}

async function refresh() {
  const sites = me.site ? [me.site] : (await G.get("/api/v1/sites")).items.map(s => s.id);
  for (const site of sites) {
    if (!staffBySite[site]) staffBySite[site] = (await G.get(`/api/v1/sites/${site}/staff?limit=500`)).items;
  }
  const open = (await G.get("/api/v1/alarms?state=open&limit=500")).items;
  $("alarms").replaceChildren(...(open.length ? open.map(row) : [G.el("p", {}, G.t("none"))]));
  const welfare = open.filter(a => a.rule.startsWith("WEL-"));
  $("welfare").replaceChildren(...(welfare.length ? welfare.map(row) : [G.el("p", {}, "—")]));
  const board = [], unprotected = [];
  for (const site of sites) {
    for (const b of (await G.get(`/api/v1/sites/${site}/buildings?limit=500`)).items) {
      const c = b.open_alarms;
      board.push(G.el("tr", {}, G.el("td", {}, `${b.name || b.id}`),
        ...c.map((n, i) => G.el("td", { class: "n" + (n && i < 2 ? " hot" : "") }, String(n)))));
    }
    for (const h of (await G.get(`/api/v1/sites/${site}/households?unprotected=true&limit=500`)).items) {
      unprotected.push(G.el("tr", {}, G.el("td", {}, h.id), G.el("td", {}, h.building), G.el("td", {}, h.status.reason)));
    }
  }
  $("board").tBodies[0].replaceChildren(...board);
  $("unprotected").tBodies[0].replaceChildren(...(unprotected.length ? unprotected
    : [G.el("tr", {}, G.el("td", { colspan: "3" }, G.t("none-unprotected")))]));
}

function onError(e) {
  if (e instanceof G.SignedOut) return page.signedOut();
  console.error(e);
}

function showConsole(account) {
  if (account.role === "resident") { $("signin-error").textContent = G.t("not-staff"); return false; }
  me = account;
  $("who").textContent = `${me.name || me.username} (${me.role})`;
  let pending = null;  // a burst of transitions reloads once
  page.watch(() => { pending = pending || setTimeout(() => { pending = null; refresh().catch(onError); }, 200); },
    () => refresh().catch(onError));
  return true;
}

const page = G.shell({ main: "console", onSignIn: showConsole, onLang: () => { if (me) refresh().catch(onError); }, onError });
$("signout").addEventListener("click", () => { $("who").textContent = ""; });
