// Notification preferences, one form for both pages: the resident app edits mine (/api/v1/me/preferences),
// the console mine or a person's at the site (/api/v1/sites/{site}/people/{id}/preferences). Channels in
// order (up/down), language, my own quiet hours (never for P1/P2), the P3/P4 notices I do not want.
// Its own words, so the page's text table stays the page's. Chinese first.
"use strict";
const GuardianPrefs = (() => {
  const G = Guardian;
  const words = {
    channels: ["通知渠道（从上到下依次尝试）", "Channels (tried top to bottom)"],
    up: ["上移", "Up"], down: ["下移", "Down"],
    language: ["通知语言", "Language of notifications"],
    quiet: ["我的免打扰时段", "My quiet hours"],
    "quiet-site": ["使用小区默认（{0}）", "The estate's default ({0})"],
    "quiet-own": ["自定义", "My own"], from: ["从", "From"], to: ["到", "to"],
    "quiet-why": ["免打扰时段内，一般提醒推迟到时段结束；紧急和严重报警随时通知。",
                  "In quiet hours ordinary notices wait until they end; emergencies always come at once."],
    optional: ["我想收到的一般提醒", "Ordinary notices I want"],
    "optional-why": ["一氧化碳、燃气等紧急报警无法关闭。", "Emergencies (CO, gas) cannot be turned off."],
    P3: ["注意", "Caution"], P4: ["提示", "Notice"],
    save: ["保存通知设置", "Save notification settings"], saved: ["已保存", "Saved"],
    none: ["无", "none"],
    webpush: ["本机推送", "Push to my phone"], jpush: ["App 推送", "App push"], wechat: ["微信公众号", "WeChat"],
    wecom: ["企业微信", "WeCom"], sms: ["短信", "SMS"], voice: ["语音电话", "Voice call"],
    bot: ["群机器人", "Group bot"], apprise: ["其他地址", "Other address"],
  };
  const say = (key, ...args) => {
    const pair = words[key] || [key, key];
    return pair[G.lang() === "zh" ? 0 : 1].replace(/\{(\d)\}/g, (_, i) => args[i]);
  };

  function channelList(order) {
    const list = G.el("ol", { class: "channel-order" });
    const draw = () => list.replaceChildren(...order.map((name, i) => G.el("li", { "data-channel": name },
      say(name), " ",
      G.el("button", { type: "button", class: "up", onclick: () => { if (i > 0) { order.splice(i - 1, 0, order.splice(i, 1)[0]); draw(); } } }, say("up")),
      G.el("button", { type: "button", class: "down", onclick: () => { if (i < order.length - 1) { order.splice(i + 1, 0, order.splice(i, 1)[0]); draw(); } } }, say("down")))));
    draw();
    return list;
  }

  function quietBox(p) {
    const [from, to] = (p.quiet_hours || p.site_quiet_hours || "22:00-07:00").split("-");
    const own = G.el("input", { type: "radio", name: "quiet-mode", value: "own", id: "quiet-own" });
    const site = G.el("input", { type: "radio", name: "quiet-mode", value: "site", id: "quiet-site" });
    (p.quiet_hours ? own : site).checked = true;
    const start = G.el("input", { type: "time", id: "quiet-from", value: from });
    const end = G.el("input", { type: "time", id: "quiet-to", value: to });
    const box = G.el("fieldset", { class: "quiet" }, G.el("legend", {}, say("quiet")),
      G.el("label", {}, site, " ", say("quiet-site", p.site_quiet_hours || say("none"))), G.el("br"),
      G.el("label", {}, own, " ", say("quiet-own")), " ",
      G.el("label", {}, say("from"), " ", start), " ", G.el("label", {}, say("to"), " ", end),
      G.el("p", { class: "meta" }, say("quiet-why")));
    box.value = () => (own.checked ? `${start.value}-${end.value}` : null);
    return box;
  }

  async function mount(root, url, onError) {
    const p = await G.get(url);
    const named = p.channels.filter(c => p.available_channels.includes(c));
    const order = [...named, ...p.available_channels.filter(c => !named.includes(c))];
    const lang = G.el("select", { id: "pref-language" },
      G.el("option", { value: "zh" }, "中文"), G.el("option", { value: "en" }, "English"));
    lang.value = p.language;
    const quiet = quietBox(p);
    const optOut = new Set(p.opt_out);
    const rules = p.optional.map(r => G.el("label", { class: "switch" },
      G.el("input", { type: "checkbox", "data-rule": r.rule, ...(optOut.has(r.rule) || optOut.has(r.family) ? {} : { checked: "" }) }),
      ` ${say(r.severity)} · ${G.lang() === "zh" ? r.title_zh : r.title}`));
    const status = G.el("span", { class: "meta", role: "status", id: "prefs-status" });
    const save = G.el("button", { type: "submit", class: "primary", id: "prefs-save" }, say("save"));
    const form = G.el("form", { class: "prefs" },
      G.el("h3", {}, say("channels")), channelList(order),
      G.el("label", {}, say("language"), " ", lang),
      quiet,
      G.el("fieldset", { class: "optional" }, G.el("legend", {}, say("optional")),
        ...rules.flatMap(r => [r, G.el("br")]), G.el("p", { class: "meta" }, say("optional-why"))),
      save, " ", status);
    form.addEventListener("submit", async ev => {
      ev.preventDefault();
      status.textContent = "";
      // families opted out of stay as they were; single rules come from the boxes
      const families = p.opt_out.filter(o => !p.optional.some(r => r.rule === o));
      const unticked = [...form.querySelectorAll("input[data-rule]")].filter(b => !b.checked && !families.includes(p.optional.find(r => r.rule === b.dataset.rule).family)).map(b => b.dataset.rule);
      const body = { channels: order, language: lang.value, quiet_hours: quiet.value(), opt_out: [...families, ...unticked] };
      try {
        await G.put(url, body);
        status.textContent = say("saved");
      } catch (e) { status.textContent = String(e.message || e); if (onError) onError(e); }
    });
    root.replaceChildren(form);
  }
  return { mount };
})();
