// The control-room console for property staff and grid officers: open alarms by severity with acknowledge and
// assign, escalation state, the board by building, welfare checks due, unprotected households, and the duty
// roster: who is on duty now, the coming week's shifts, add/delete (property staff) and hand-over. Live.
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
  roster: ["值班表", "Duty roster"], "on-duty": ["当前值班", "On duty now"], coming: ["近期班次", "Coming shifts"],
  duty: ["岗位", "Duty"], who: ["值班人员", "On duty"], from: ["开始", "From"], to: ["结束", "To"], note: ["备注", "Note"],
  "add-shift": ["添加班次", "Add shift"], "hand-over": ["交班", "Hand over"], remove: ["删除", "Delete"],
  officer: ["网格员 {0}", "grid {0} officers"], property: ["物业控制室", "property control room"],
  maintenance: ["维修", "maintenance"], everyone: ["（未排班，通知全部）", "(nobody rostered: all are told)"],
  "none-coming": ["未来七天没有班次", "No shifts in the coming week"],
});
let me = null;
const staffBySite = {};
const chosen = {};  // alarm id -> the assignee picked but not yet assigned
let rosterSite = null, rosterPeople = [];

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
  who.value = chosen[a.alarm_id] ?? (a.assignee || "");
  who.addEventListener("change", () => { chosen[a.alarm_id] = who.value; });  // kept across a live refresh
  card.append(who, G.el("button", { class: "assign", onclick: async () => {
    await G.post(`/api/v1/alarms/${id}/assign`, { assignee: who.value || null }).catch(e => alert(e.message));
    delete chosen[a.alarm_id];
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
  await roster(sites);
  $("board").tBodies[0].replaceChildren(...board);
  $("unprotected").tBodies[0].replaceChildren(...(unprotected.length ? unprotected
    : [G.el("tr", {}, G.el("td", { colspan: "3" }, G.t("none-unprotected")))]));
}

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
      G.el("td", { class: "people" }, d.on_duty.join(", ") + (d.rostered ? "" : " " + G.t("everyone"))),
      G.el("td", {}, ...mine.flatMap(handOver)));
  }));
  const shifts = (await G.get(`/api/v1/sites/${site}/duty/shifts?limit=500`)).items;
  $("shifts").tBodies[0].replaceChildren(...(shifts.length ? shifts.map(s => G.el("tr", { "data-shift": String(s.id) },
    G.el("td", {}, dutyName(s.role, s.grid)), G.el("td", {}, s.person),
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
  $("who").textContent = `${me.name || me.username} (${me.role})`;
  let pending = null;  // a burst of transitions reloads once
  page.watch(() => { pending = pending || setTimeout(() => { pending = null; refresh().catch(onError); }, 200); },
    () => refresh().catch(onError));
  return true;
}

const page = G.shell({ main: "console", onSignIn: showConsole, onLang: () => { if (me) refresh().catch(onError); }, onError });
$("signout").addEventListener("click", () => { $("who").textContent = ""; });
