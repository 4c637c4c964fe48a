// The resident app's homes: each home this account looks after (where I live, or where I am the family
// contact), its state in one word and one colour, the incidents happening there with what to do now and
// big buttons to act, and its detectors in plain words. Every label in Chinese first, English beneath.
// Nothing a resident cannot read is shown: no rule ids, severity codes, detector or unit ids.
"use strict";
const Homes = (() => {
  const G = Guardian;
  const WORDS = {
    "my-home": ["我的家", "My home"], "their-home": ["家人的家", "My family's home"],
    safe: ["安全", "Safe"], danger: ["危险", "Danger"],
    attention: ["探测器需要处理", "Detector needs attention"], unmonitored: ["未监测", "Not monitored"],
    "safe-why": ["探测器工作正常，没有发现危险。", "The detectors are working and found no danger."],
    "danger-why": ["家里有危险，请马上按下面的步骤做。", "There is danger at home: do the steps below now."],
    "attention-why": ["探测器有故障、电量低或离线。请联系物业。", "A detector is faulty, low on battery or offline. Call the property."],
    "unmonitored-why": ["没有正常工作的探测器，燃气和一氧化碳无人监测。请联系物业。",
                        "No detector is working: nobody watches for gas or carbon monoxide. Call the property."],
    "unknown-why": ["这里看不到家里的实时状态，不能说是安全的。如有危险，您仍会收到报警。",
                    "This page cannot see your home's live state, so it cannot say it is safe. If there is danger, you are still alerted."],
    P1: ["紧急", "Emergency"], P2: ["严重", "Serious"], P3: ["注意", "Caution"], P4: ["提示", "Notice"],
    active: ["正在发生", "Happening now"], acknowledged: ["已确认，正在处理", "Acknowledged, being handled"],
    returned: ["已恢复，请确认", "Cleared, please acknowledge"], closed: ["已结束", "Over"], resolved: ["已处理", "Resolved"],
    "just-now": ["刚刚开始", "Started just now"], "min-ago": ["{0}分钟前开始", "Started {0} min ago"],
    "h-ago": ["{0}小时前开始", "Started {0} h ago"], "d-ago": ["{0}天前开始", "Started {0} days ago"],
    steps: ["现在请这样做", "What to do now"],
    ack: ["我知道了", "Acknowledge"], "acked-note": ["已确认，物业正在处理", "Acknowledged: the property is on it"],
    "call-property": ["打电话给物业", "Call the property"], "call-119": ["拨打119（火警、燃气）", "Call 119 (fire, gas)"],
    "call-120": ["拨打120（急救）", "Call 120 (ambulance)"],
    "call-outside": ["燃气泄漏时请到室外再打电话", "With a gas leak, make the call from outside"],
    "im-safe": ["我很安全", "I'm safe"], "safe-sent": ["已告诉物业：您很安全", "The control room knows you are safe"],
    "safe-comment": ["居民报平安", "resident reports safe"],
    none: ["现在没有需要处理的事", "Nothing needs you now"],
    detectors: ["探测器", "Detectors"], "no-detector": ["这个家没有探测器", "This home has no detector"],
    co_gas: ["燃气和一氧化碳探测器", "Gas and CO detector"], gas: ["燃气探测器", "Gas detector"],
    co: ["一氧化碳探测器", "CO detector"],
    ok: ["正常", "Working"], preheat: ["预热中", "Warming up"], low_battery: ["电量低", "Battery low"],
    stuck: ["读数卡住", "Reading stuck"], end_of_life: ["已到使用寿命", "End of life"], fault: ["故障", "Fault"],
    silent: ["离线", "Offline"], unknown: ["状态未知", "State unknown"],
    unit: ["{0}单元", "Unit {0}"], flat: ["{0}室", "Flat {0}"],
    "past-none": ["最近30天没有发生过事情", "Nothing in the last 30 days"],
  };
  const NOT_WORKING = new Set(["stuck", "end_of_life", "fault", "silent"]);
  const NEEDS_ATTENTION = new Set(["low_battery", "stuck", "end_of_life", "fault", "silent"]);
  const fill = (s, args) => args.reduce((out, a, i) => out.replace("{" + i + "}", a), s);
  const zhFirst = () => G.lang() === "zh";

  // Both languages, the chosen one first and large, the other beneath and smaller.
  function pair(zh, en, cls = "") {
    const [first, second] = zhFirst() ? [[zh, "zh-CN"], [en, "en"]] : [[en, "en"], [zh, "zh-CN"]];
    const out = G.el("span", { class: "bi " + cls }, G.el("span", { class: "pri", lang: first[1] }, first[0]));
    if (second[0] && second[0] !== first[0]) out.append(G.el("span", { class: "sec", lang: second[1] }, second[0]));
    return out;
  }
  function bi(key, ...args) {
    const [zh, en] = WORDS[key] || [key, key];
    return pair(fill(zh, args), fill(en, args));
  }

  // A home's name as people say it: the building's name from the registry, the unit and flat numbers
  // read from their ids ("b1-u2" is unit 2, "b1-u2-301" flat 301) when they follow that pattern.
  function placeName(household, buildingName) {
    const tail = (id, prefix) => (id.startsWith(prefix + "-") ? id.slice(prefix.length + 1) : id);
    const unitNo = tail(household.unit, household.building).replace(/^u(?=\d+$)/, "");
    const flatNo = tail(household.id, household.unit);
    const b = buildingName || household.building.replace(/^b(?=\d+$)/, "") + (zhFirst() ? "栋" : "");
    return pair(`${b} · ${fill(WORDS.unit[0], [unitNo])} · ${fill(WORDS.flat[0], [flatNo])}`,
                `${b} · ${fill(WORDS.unit[1], [unitNo])} · ${fill(WORDS.flat[1], [flatNo])}`, "place");
  }

  // One word for the home. Hazard beats device health, always.
  function homeState(household, incidents) {
    if (incidents.some(i => i.open && i.hazard && (i.severity === "P1" || i.severity === "P2"))) return "danger";
    // live state nobody here knows (a district's API replica: the rule engine's owner keeps it) is not safe
    if (household.status.protected === null || household.status.protected === undefined) return "unknown";
    const health = (household.devices || []).map(d => d.live.health || "ok");
    if (!health.length || health.every(h => NOT_WORKING.has(h))) return "unmonitored";
    const deviceIncident = incidents.some(i => i.open && !i.hazard && i.alarms.some(a => a.family === "health"));
    if (deviceIncident || health.some(h => NEEDS_ATTENTION.has(h)) || household.status.protected === false) return "attention";
    return "safe";
  }

  function ago(ts, now) {
    const s = Math.max(0, now - ts);
    if (s < 60) return ["just-now"];
    if (s < 3600) return ["min-ago", Math.floor(s / 60)];
    if (s < 86400) return ["h-ago", Math.floor(s / 3600)];
    return ["d-ago", Math.floor(s / 86400)];
  }

  const safeKey = id => "safe:" + id;
  function button(cls, key, onclick) {
    return G.el("button", { class: "btn " + cls, type: "button", onclick }, bi(key));
  }
  function call(cls, number, key) {
    return G.el("a", { class: "btn call " + cls, href: "tel:" + number.replace(/[\s-]/g, "") }, bi(key));
  }

  function incidentCard(i, ctx) {
    const card = G.el("article", { class: `incident sev-${i.severity}`, "data-incident": i.incident_id },
      G.el("div", { class: "inc-head" }, G.el("span", { class: "sev" }, bi(i.severity)),
        G.el("span", { class: "inc-state" }, bi(i.state))),
      G.el("h4", {}, pair(i.title_zh, i.title)),
      G.el("p", { class: "when" }, bi(...ago(i.started_ts, ctx.now))));
    if (i.advice) {
      const steps = i.advice.steps_zh.map((zh, n) => G.el("li", {}, pair(zh, i.advice.steps[n] || "")));
      card.append(G.el("h5", {}, bi("steps")), G.el("ol", { class: "steps" }, ...steps));
    }
    const actions = G.el("div", { class: "actions" });
    const waiting = i.alarms.some(a => !a.acked_ts && a.state !== "closed" && a.state !== "resolved");
    if (waiting) {
      actions.append(button("ack", "ack", async ev => {
        ev.currentTarget.disabled = true;
        await G.post(`/api/v1/incidents/${encodeURIComponent(i.incident_id)}/acknowledge`).catch(ctx.onError);
        await ctx.reload();
      }));
    } else {
      actions.append(G.el("p", { class: "done" }, bi("acked-note")));
    }
    if (i.advice && i.advice.call) {
      actions.append(call("emergency", i.advice.call, "call-" + i.advice.call));
      if (i.hazard === "gas") actions.append(G.el("p", { class: "hint" }, bi("call-outside")));
    }
    if (ctx.phone) actions.append(call("property", ctx.phone, "call-property"));
    if (localStorage.getItem(safeKey(i.incident_id))) {
      actions.append(G.el("p", { class: "done safe-sent", role: "status" }, bi("safe-sent")));
    } else {
      actions.append(button("safe", "im-safe", async ev => {
        ev.currentTarget.disabled = true;
        const text = `${WORDS["safe-comment"][0]} / ${WORDS["safe-comment"][1]}`;
        const open = i.alarms.filter(a => a.state !== "closed" && a.state !== "resolved");
        try {
          for (const a of open.length ? open : i.alarms) {
            await G.post(`/api/v1/alarms/${encodeURIComponent(a.alarm_id)}/comments`, { text });
          }
          localStorage.setItem(safeKey(i.incident_id), String(Date.now()));
        } catch (e) { ctx.onError(e); }
        await ctx.reload();
      }));
    }
    card.append(actions);
    return card;
  }

  function homeCard(h, incidents, ctx) {
    const state = homeState(h, incidents);
    const mine = (h.people || []).some(p => p.id === ctx.me.person && p.role === "resident");
    const kinds = {};
    const devices = (h.devices || []).map(d => {
      kinds[d.kind] = (kinds[d.kind] || 0) + 1;
      const health = d.live.health || (d.live.online === null ? "unknown" : "ok");
      const n = (h.devices.filter(x => x.kind === d.kind).length > 1) ? ` ${kinds[d.kind]}` : "";
      const [zh, en] = WORDS[d.kind] || WORDS.co_gas;
      return G.el("li", { class: NEEDS_ATTENTION.has(health) ? "bad" : "" },
        pair(`${zh}${n}：${WORDS[health][0]}`, `${en}${n}: ${WORDS[health][1]}`));
    });
    return G.el("article", { class: `home state-${state}`, "data-household": h.id, "data-state": state },
      G.el("p", { class: "whose" }, bi(mine ? "my-home" : "their-home")),
      G.el("h3", {}, placeName(h, ctx.buildings[h.building])),
      G.el("div", { class: "state", role: "status" }, G.el("p", { class: "word" }, bi(state)),
        G.el("p", { class: "why" }, bi(state + "-why"))),
      G.el("div", { class: "incidents" },
        ...(incidents.length ? incidents.map(i => incidentCard(i, ctx)) : [G.el("p", { class: "none" }, bi("none"))])),
      G.el("h4", { class: "detectors" }, bi("detectors")),
      G.el("ul", { class: "devices" }, ...(devices.length ? devices : [G.el("li", {}, bi("no-detector"))])));
  }

  function pastItem(i, ctx) {
    const when = new Date(i.started_ts * 1000).toLocaleString(zhFirst() ? "zh-CN" : "en-GB",
      { month: "long", day: "numeric", hour: "2-digit", minute: "2-digit" });
    return G.el("li", { "data-incident": i.incident_id }, G.el("strong", {}, pair(i.title_zh, i.title)),
      G.el("span", { class: "meta" }, when, " · ", bi(i.state)));
  }

  // The gateway's own alarms about an alarm (nobody acknowledged it, it reached nobody) are the control
  // room's to act on: the resident already sees the incident they are about.
  const forResidents = i => !i.alarms.every(a => a.family === "system");

  // Everything the homes section shows, read afresh (a few small requests per home).
  async function load(me, onError) {
    const ctx = { me, onError, now: Date.now() / 1000, buildings: {}, phone: "", reload: () => Homes.refresh() };
    const site = me.site ? await G.get(`/api/v1/sites/${me.site}`).catch(() => null) : null;
    ctx.phone = site ? site.phone : "";
    const [open, past] = await Promise.all([
      G.get("/api/v1/incidents"), G.get(`/api/v1/incidents?since=${Math.floor(ctx.now - 30 * 86400)}`)]);
    const homes = await Promise.all((me.households || []).map(id => G.get(`/api/v1/sites/${me.site}/households/${id}`)));
    for (const b of new Set(homes.map(h => h.building))) {
      const got = await G.get(`/api/v1/sites/${me.site}/buildings/${b}`).catch(() => null);
      if (got && got.name) ctx.buildings[b] = got.name;
    }
    const cards = homes.map(h => ({ h, incidents: open.filter(i => i.household === h.id && forResidents(i)) }))
      .map(({ h, incidents }) => homeCard(h, incidents, ctx))
      .sort((a, b) => (b.dataset.state === "danger") - (a.dataset.state === "danger"));
    const over = past.filter(i => !i.open && forResidents(i));
    return {
      cards,
      past: over.length ? over.map(i => pastItem(i, ctx)) : [G.el("li", {}, bi("past-none"))],
    };
  }

  let refresh = async () => {};
  return { load, bi, pair, placeName, homeState, setRefresh: f => { refresh = f; }, refresh: () => refresh() };
})();
