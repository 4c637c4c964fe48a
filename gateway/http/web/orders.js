// "Report a problem" and "My requests" in the resident app (docs/work-orders.md): a resident asks, the
// community dispatches, the property does the job, she confirms it with stars or says it is not fixed.
// A gas smell goes straight to the property's duty team, and the page says at once what to do.
"use strict";
const Orders = (() => {
  const G = Guardian, pair = (zh, en) => Homes.pair(zh, en);
  const CATEGORIES = [
    ["gas_smell", "闻到燃气味", "Gas smell"], ["battery", "探测器电池", "Detector battery"],
    ["detector_fault", "探测器故障", "Detector not working"], ["door_fault", "门禁故障", "Door or access fault"],
    ["repair", "维修", "Repair"], ["other", "其他", "Something else"],
  ];
  const NAMES = Object.fromEntries([...CATEGORIES, ["end_of_life", "探测器到期", "Detector end of life"],
    ["welfare_visit", "上门关怀", "Welfare visit"]].map(([k, zh, en]) => [k, [zh, en]]));
  const STATES = {
    submitted: ["已提交，等待社区受理", "Sent: waiting for the community"], accepted: ["社区已受理", "Accepted by the community"],
    dispatched: ["已派单", "Sent to the team"], claimed: ["已接单", "Taken by the team"], in_progress: ["处理中", "Being done"],
    on_hold: ["暂停处理", "Paused"], resolved: ["已处理，请确认", "Done: please confirm"],
    verified: ["已确认", "Confirmed"], closed: ["已完成", "Closed"], cancelled: ["已撤销", "Withdrawn"],
  };
  const WORDS = {
    what: ["遇到什么问题", "What is the problem"], where: ["哪一户", "Which home"], describe: ["请描述", "Describe it"],
    send: ["提交", "Send"], sent: ["已提交", "Sent"], mine: ["我的报修", "My requests"], none: ["还没有报修", "No requests yet"],
    rate: ["满意度", "How well was it done"], again: ["仍有问题", "Still a problem"],
    "again-why": ["居民反馈：仍有问题", "Resident: still a problem"], call: ["拨打", "Call"],
    photo: ["添加照片", "Add a photo"], "not-image": ["请选择 JPEG、PNG 或 WebP 图片", "Choose a JPEG, PNG or WebP image"],
    "too-big": ["照片不能超过 5 MB", "The photo must be 5 MB at most"],
  };
  const OPEN = ["submitted", "accepted", "dispatched", "claimed", "in_progress", "on_hold", "resolved"];
  const w = key => pair(...WORDS[key]);
  let root = null, me = null, onError = () => {}, homes = [];

  async function mount(el, account, errors) {
    root = el; me = account; onError = errors;
    homes = await Promise.all((me.households || []).map(id => G.get(`/api/v1/sites/${me.site}/households/${id}`)));
    await render();
  }

  function form() {
    const category = G.el("select", { name: "category", "aria-label": WORDS.what.join(" / ") },
      ...CATEGORIES.map(([k, zh, en]) => G.el("option", { value: k }, G.lang() === "zh" ? `${zh} ${en}` : `${en} ${zh}`)));
    const home = G.el("select", { name: "household", "aria-label": WORDS.where.join(" / ") },
      ...homes.map(h => G.el("option", { value: h.id }, Homes.placeName(h).textContent)));
    const text = G.el("textarea", { name: "description", maxlength: "2000", required: "", rows: "3",
      "aria-label": WORDS.describe.join(" / ") });
    const advice = G.el("div", { class: "advice hidden", role: "alert" });
    const f = G.el("form", { class: "report" },
      G.el("label", {}, w("what"), category),
      ...(homes.length > 1 ? [G.el("label", {}, w("where"), home)] : []),
      G.el("label", {}, w("describe"), text),
      G.el("button", { class: "primary", type: "submit" }, w("send")), advice);
    f.addEventListener("submit", async e => {
      e.preventDefault();
      const body = { category: category.value, description: text.value.trim(), household: home.value || (homes[0] || {}).id };
      try {
        const made = await G.post("/api/v1/work-orders", body);
        text.value = "";
        if (made.advice) showAdvice(advice, made.advice); else advice.classList.add("hidden");
        await list();
      } catch (err) { onError(err); }
    });
    return f;
  }

  function showAdvice(box, a) {
    box.replaceChildren(G.el("h4", {}, pair(a.title_zh, a.title)),
      G.el("ol", {}, ...a.steps_zh.map((zh, n) => G.el("li", {}, pair(zh, a.steps[n] || "")))),
      G.el("a", { class: "btn call", href: `tel:${a.call}` }, pair(`拨打 ${a.call}`, `Call ${a.call}`)));
    box.classList.remove("hidden");
  }

  function item(o) {
    const li = G.el("li", { "data-order": o.id, "data-state": o.state },
      G.el("strong", {}, pair(...(NAMES[o.category] || [o.category, o.category]))),
      G.el("span", { class: "meta" }, G.when(o.created_ts), " · "), pair(...(STATES[o.state] || [o.state, o.state])));
    if (o.resolution) li.append(G.el("p", { class: "meta" }, o.resolution));
    if (o.photos) li.append(G.el("p", { class: "meta photos" }, pair(`${o.photos} 张照片`, `${o.photos} photo${o.photos > 1 ? "s" : ""}`)));
    if (OPEN.includes(o.state) && o.photos < 6) {
      // a photo of the problem from the phone's camera or gallery: its bytes as the body, the server checks them
      const input = G.el("input", { type: "file", accept: "image/jpeg,image/png,image/webp", "data-photo": "",
        "aria-label": WORDS.photo.join(" / ") });
      const said = G.el("span", { class: "error", role: "alert" });
      input.addEventListener("change", async () => {
        const file = input.files[0];
        if (!file) return;
        const r = await fetch(`/api/v1/work-orders/${o.id}/photos`,
          { method: "POST", headers: { authorization: "Bearer " + (G.tokens().access || "") }, body: file }).catch(() => null);
        if (r && r.ok) { await list().catch(onError); return; }
        said.replaceChildren(w(r && r.status === 413 ? "too-big" : "not-image"));
      });
      li.append(G.el("label", { class: "photo" }, w("photo"), input), said);
    }
    if (o.state === "resolved") {
      const stars = G.el("div", { class: "stars", role: "group", "aria-label": WORDS.rate.join(" / ") },
        ...[1, 2, 3, 4, 5].map(n => G.el("button", { class: "btn small", type: "button", "data-rating": String(n),
          "aria-label": `${n}`, onclick: () => act(o, "verify", { rating: n }) }, "★".repeat(n))));
      li.append(G.el("p", {}, w("rate")), stars, G.el("button", { class: "btn small", type: "button", "data-again": "",
        onclick: () => act(o, "reopen", { reason: WORDS["again-why"].join(" / ") }) }, w("again")));
    }
    return li;
  }

  async function act(o, action, body) {
    try { await G.post(`/api/v1/work-orders/${o.id}/${action}`, body); await list(); } catch (err) { onError(err); }
  }

  async function list() {
    const got = (await G.get("/api/v1/work-orders?limit=50")).items;
    const ul = root.querySelector("ul.orders");
    ul.replaceChildren(...(got.length ? got.map(item) : [G.el("li", {}, w("none"))]));
  }

  async function render() {
    if (!root) return;
    root.replaceChildren(form(), G.el("h3", {}, w("mine")), G.el("ul", { class: "orders past", "aria-live": "polite" }));
    await list();
  }

  return { mount, refresh: () => render().catch(onError) };
})();
