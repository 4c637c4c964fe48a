// The console's work-order board (docs/work-orders.md): open orders in the caller's scope, overdue first and
// then the soonest due, with their place as people say it, their state in words, how old they are and how
// long is left; claim (签收), start, return (退单, with a reason), hold (with a reason), resume and resolve
// (with what was done) through the orders' action API; a detail view with the order's timeline. Loaded after
// console.js, which calls `ConsoleOrders.load(sites)` whenever it reloads the page's data.
"use strict";
const ConsoleOrders = (() => {
  const G = Guardian, $ = id => document.getElementById(id), zh = () => G.lang() === "zh";
  G.addTexts({
    orders: ["工单", "Work orders"], "o-pool": ["只看待我接单", "Only what my teams can claim"],
    "o-what": ["类别", "Category"], "o-place": ["地点", "Place"], "o-state": ["状态", "State"],
    "o-assignee": ["负责", "Assigned to"], "o-age": ["已过", "Age"], "o-left": ["剩余时间", "Time left"],
    "o-none": ["没有待办工单", "No open work orders"], "o-open": ["详情", "Details"],
    "o-timeline": ["工单记录", "Timeline"], "o-text": ["原因或处理结果（退单、暂停、办结时必填）", "Reason or what was done (for return, hold, resolve)"],
    "o-need-reason": ["请先填写原因", "Write the reason first"], "o-need-note": ["请先填写处理结果", "Write what was done first"],
    "o-late-claim": ["接单超时 {0}", "claim overdue {0}"], "o-late-resolve": ["办结超时 {0}", "resolve overdue {0}"],
    "o-held": ["暂停中（计时停止）", "on hold (clock stopped)"], "o-claim-in": ["{0} 内接单", "claim within {0}"],
    "o-resolve-in": ["{0} 内办结", "resolve within {0}"], "o-filed": ["提交于 {0}", "filed {0}"],
    "o-unassigned": ["未派单", "not dispatched"], "o-done": ["处理结果：{0}", "Done: {0}"], "o-system": ["系统", "the system"],
    "o-by-rule": ["按派单规则", "by the dispatch rule"],
    "c-gas_smell": ["燃气异味", "Gas smell"], "c-detector_fault": ["探测器故障", "Detector fault"], "c-battery": ["探测器电池", "Detector battery"],
    "c-end_of_life": ["探测器到期", "Detector end of life"], "c-door_fault": ["门禁故障", "Door fault"],
    "c-welfare_visit": ["上门关怀", "Welfare visit"], "c-repair": ["维修", "Repair"], "c-other": ["其他", "Other"],
    "s-submitted": ["待受理", "submitted"], "s-accepted": ["已受理，待派单", "accepted, to dispatch"], "s-dispatched": ["待接单", "waiting to be claimed"],
    "s-claimed": ["已接单", "claimed"], "s-in_progress": ["处理中", "in progress"], "s-on_hold": ["已暂停", "on hold"],
    "s-resolved": ["已办结，待回访", "resolved, to verify"], "s-verified": ["已回访", "verified"], "s-closed": ["已关闭", "closed"],
    "s-cancelled": ["已撤销", "cancelled"],
    "a-submit": ["提交", "filed"], "a-open": ["报警生成", "opened by an alarm"], "a-accept": ["受理", "accepted"],
    "a-dispatch": ["派单", "dispatched"], "a-reassign": ["改派", "reassigned"], "a-claim": ["签收", "claimed"],
    "a-return": ["退单", "returned"], "a-start": ["开始处理", "started"], "a-hold": ["暂停", "put on hold"],
    "a-resume": ["继续处理", "resumed"], "a-resolve": ["办结", "resolved"], "a-verify": ["回访", "verified"],
    "a-close": ["关闭", "closed"], "a-reopen": ["重新打开", "reopened"], "a-cancel": ["撤销", "cancelled"],
    "b-accept": ["受理", "Accept"], "b-claim": ["签收", "Claim"], "b-start": ["开始处理", "Start"], "b-return": ["退单", "Return"],
    "b-hold": ["暂停", "Hold"], "b-resume": ["继续", "Resume"], "b-resolve": ["办结", "Resolve"],
    "o-photos": ["照片", "Photos"], "o-add-photo": ["添加照片（JPEG、PNG、WebP，5 MB 以内）", "Add a photo (JPEG, PNG, WebP, up to 5 MB)"],
    "o-photo-n": ["照片 {0}", "Photo {0}"], "o-photo-415": ["不是 JPEG、PNG 或 WebP 图片", "Not a JPEG, PNG or WebP image"],
    "o-photo-413": ["照片超过 5 MB", "The photo is over 5 MB"], "o-no-photos": ["暂无照片", "No photos"], "a-photo": ["添加照片", "added a photo"],
    "t-property": ["物业", "property"], "t-maintenance": ["维修", "maintenance"], "t-grid": ["网格员", "grid officers"],
  });
  const word = (prefix, key) => G.t(prefix + key) === prefix + key ? key : G.t(prefix + key);
  // what each state offers, in the order shown; `needs` the text box (the API answers 422 without it too)
  const BUTTONS = {
    submitted: ["accept"], dispatched: ["claim", "return"], claimed: ["start", "resolve", "return"],
    in_progress: ["hold", "resolve"], on_hold: ["resume"],
  };
  const NEEDS = { return: "reason", hold: "reason", resolve: "note" };
  const COMMUNITY = ["officer", "admin"];
  const UNCLAIMED = ["submitted", "accepted", "dispatched"];
  const teams = {};  // site -> team id -> name
  let orders = [], shown = null, me = null;

  const due = o => UNCLAIMED.includes(o.state) ? o.claim_due_ts : o.resolve_due_ts;
  const urgent = (x, y) => (y.overdue.length > 0) - (x.overdue.length > 0) || due(x) - due(y);
  function span(s) {
    s = Math.abs(s);
    return s < 90 ? G.t("s", Math.round(s)) : s < 5400 ? G.t("min", Math.round(s / 60)) : s < 172800 ? G.t("h", (s / 3600).toFixed(1))
      : (zh() ? `${Math.round(s / 86400)} 天` : `${Math.round(s / 86400)} d`);
  }
  const now = () => Date.now() / 1000;
  const place = o => (zh() ? o.place_zh : o.place) || o.household || o.building;
  function assignee(o) {
    if (!o.assignee) return G.t("o-unassigned");
    const team = (teams[o.site] || {})[o.assignee];
    if (team !== undefined) return team || word("t-", o.assignee);
    return o.assignee_name || (typeof staffName === "function" ? staffName(o.site, o.assignee) : o.assignee);
  }
  const FINISHED = ["resolved", "verified", "closed", "cancelled"];
  function left(o) {
    if (FINISHED.includes(o.state)) return "";
    if (o.on_hold_since) return G.t("o-held");
    if (o.overdue.length) return o.overdue.map(k => G.t("o-late-" + k, span(now() - (k === "claim" ? o.claim_due_ts : o.resolve_due_ts)))).join(zh() ? "，" : ", ");
    return G.t(UNCLAIMED.includes(o.state) ? "o-claim-in" : "o-resolve-in", span(due(o) - now()));
  }
  const heading = o => `${o.priority} ${word("c-", o.category)}`;

  async function act(o, action, text) {
    const need = NEEDS[action];
    if (need && !text.trim()) { $("o-error").textContent = G.t(need === "note" ? "o-need-note" : "o-need-reason"); return false; }
    try {
      await G.post(`/api/v1/work-orders/${o.id}/${action}`, need ? { [need]: text.trim() } : {});
      $("o-error").textContent = "";
      return true;
    } catch (e) {
      if (e instanceof G.SignedOut) throw e;
      $("o-error").textContent = e.message;
      return false;
    }
  }

  function row(o) {
    const open = G.el("button", { type: "button", class: "open secondary", "aria-label": `${G.t("o-open")}: ${heading(o)} ${place(o)}`,
      onclick: () => openOrder(o.id).catch(onError) }, G.t("o-open"));
    const quick = o.state === "dispatched" ? [G.el("button", { type: "button", class: "claim ack", "aria-label": `${G.t("b-claim")}: ${heading(o)} ${place(o)}`,
      onclick: async ev => { ev.target.disabled = true; await act(o, "claim", ""); await load(); } }, G.t("b-claim"))] : [];
    // each cell names its heading: on a phone the rows stack as cards and the headings go
    const cell = (key, cls, ...content) => G.el("td", { class: cls, "data-label": G.t(key) }, ...content);
    return G.el("tr", { "data-order": o.id, "data-state": o.state, class: o.overdue.length ? "late" : "" },
      cell("o-what", "what", G.el("span", { class: "badge sev " + o.priority }, o.priority), " ", word("c-", o.category)),
      cell("o-place", "place", place(o)),
      cell("o-state", "state", word("s-", o.state)),
      cell("o-assignee", "assignee", assignee(o)),
      cell("o-age", "age", span(now() - o.created_ts)),
      cell("o-left", "left", left(o)),
      cell("actions", "buttons", ...quick, open));
  }

  async function load(sites) {
    try {
      me = me || await G.get("/api/v1/me");
      for (const site of sites || []) {
        if (!teams[site]) {
          const d = await G.get(`/api/v1/sites/${site}/dispatch`);
          teams[site] = Object.fromEntries(d.teams.map(t => [t.id, t.name]));
        }
      }
      const pool = $("o-pool").checked ? "&pool=true" : "";
      orders = (await G.get(`/api/v1/work-orders?open=true&limit=200${pool}`)).items
        .filter(o => typeof inFilter !== "function" || inFilter(o.site, o.building)).sort(urgent);
      $("order-board").tBodies[0].replaceChildren(...(orders.length ? orders.map(row)
        : [G.el("tr", {}, G.el("td", { colspan: "7" }, G.t("o-none")))]));
      if (shown && $("order").open) await fill(shown);
    } catch (e) { onError(e); }
  }

  function event(e, o) {
    const who = e.actor === "guardian" ? G.t("o-system") : e.actor_name || e.actor || "—";
    const to = e.data && e.data.assignee ? ` → ${assignee({ ...o, assignee: e.data.assignee })}` : "";
    // the system's own notes name rules and alarm ids: said in words, or left out
    const note = e.actor !== "guardian" ? e.note : e.action === "dispatch" ? G.t("o-by-rule") : "";
    return G.el("li", { "data-action": e.action },
      `${G.when(e.ts)} · ${word("a-", e.action)}${to} · ${who}` + (note ? `${zh() ? "：" : ": "}${note}` : ""));
  }

  async function fill(id) {
    const o = await G.get(`/api/v1/work-orders/${id}`);
    if (shown !== id) return;
    const d = $("order");
    d.dataset.order = id;
    d.dataset.state = o.state;
    d.className = "sheet " + o.priority;
    $("o-title").textContent = heading(o);
    $("o-where").textContent = place(o);
    $("o-meta").textContent = [word("s-", o.state), assignee(o), G.t("o-filed", G.when(o.created_ts)), left(o)].filter(Boolean).join(" · ");
    $("o-description").textContent = o.description;
    $("o-resolution").textContent = o.resolution ? G.t("o-done", o.resolution) : "";
    $("o-resolution").classList.toggle("hidden", !o.resolution);
    const offered = (BUTTONS[o.state] || []).filter(a => a !== "accept" || COMMUNITY.includes(me.role));
    $("o-buttons").replaceChildren(...offered.map(a => G.el("button", { type: "button", "data-action": a,
      class: a === "resolve" || a === "claim" ? "primary" : "secondary", onclick: async ev => {
        ev.target.disabled = true;
        const text = $("o-act").elements.text;
        if (await act(o, a, text.value)) text.value = "";
        ev.target.disabled = false;
        await load();
        await fill(id);
      } }, G.t("b-" + a))));
    $("o-act").classList.toggle("hidden", !offered.length);
    $("o-events").replaceChildren(...o.events.map(e => event(e, o)));
    await photos(id);
  }

  // photos need the sign-in token, which an <img src> cannot send: fetched, and shown from a blob URL
  let blobs = [];
  async function photos(id) {
    const list = (await G.get(`/api/v1/work-orders/${id}/photos`)).items;
    if (shown !== id) return;
    blobs.forEach(u => URL.revokeObjectURL(u));
    blobs = [];
    const imgs = [];
    for (const [n, p] of list.entries()) {
      const r = await fetch(p.url, { headers: { authorization: "Bearer " + (G.tokens().access || "") } });
      if (!r.ok) continue;
      const url = URL.createObjectURL(await r.blob());
      blobs.push(url);
      imgs.push(G.el("a", { href: url, target: "_blank", rel: "noopener" },
        G.el("img", { src: url, alt: G.t("o-photo-n", String(n + 1)), "data-photo": p.id, width: "96", height: "96" })));
    }
    $("o-photos").replaceChildren(...(imgs.length ? imgs : [G.el("p", { class: "meta" }, G.t("o-no-photos"))]));
  }
  async function upload(file) {
    const r = await fetch(`/api/v1/work-orders/${shown}/photos`,
      { method: "POST", headers: { authorization: "Bearer " + (G.tokens().access || "") }, body: file });
    const data = await r.json().catch(() => ({}));
    const said = typeof data.detail === "string" ? data.detail : String(r.status);
    const why = { 415: "o-photo-415", 413: "o-photo-413" }[r.status];
    $("o-photo-error").textContent = r.ok ? "" : why ? G.t(why) : said;
  }
  $("o-photo").addEventListener("change", async ev => {
    const file = ev.target.files[0], id = shown;
    if (!file || !id) return;
    await upload(file).catch(onError);
    ev.target.value = "";
    await fill(id).catch(onError);
  });

  async function openOrder(id) {
    shown = id;
    $("o-error").textContent = "";
    $("o-photo-error").textContent = "";
    $("o-act").elements.text.value = "";
    await fill(id);
    if (!$("order").open) $("order").showModal();
  }

  function onError(e) {
    if (e instanceof G.SignedOut) return page.signedOut();
    console.error(e);
  }

  $("o-close").addEventListener("click", () => $("order").close());
  $("order").addEventListener("close", () => { shown = null; });
  $("o-act").addEventListener("submit", ev => ev.preventDefault());
  $("o-pool").addEventListener("change", () => load());
  $("signout").addEventListener("click", () => { me = null; });
  G.translate($("orders-box")); G.translate($("order"));  // console.js translated the page before these words came
  return { load, open: openOrder };
})();
