// "智能家居 Home Assistant" in the resident app (docs/home-assistant.md): a resident links the home she lives
// in to her own Home Assistant, sees whether it is linked and connected, changes it, or unlinks it. The API
// decides who may: a family contact gets 403 and a gateway without the bridge 404, and then the section
// stays hidden. The password is write-only: the page never shows one, and an empty box keeps the stored one.
"use strict";
const HomeAssistant = (() => {
  const G = Guardian, pair = (zh, en) => Homes.pair(zh, en);
  const WORDS = {
    what: ["在您自己的 Home Assistant 里看到家里的燃气和一氧化碳报警器，也可以在那里按“确认报警”。",
           "See your home's gas and CO detectors in your own Home Assistant, and acknowledge an alarm from there."],
    shared: ["只发送您家的报警器（报警、浓度、电池、是否在线）和单元门禁是否正常，只发到您填写的服务器。不发送邻居的任何信息，不发送姓名、电话、谁在家或进出记录。",
             "Only your home's detectors (alarms, readings, battery, online or not) and whether your unit's door controller works, and only to the broker you name. Nothing about neighbours, no names, phone numbers, who is home or who came in."],
    back: ["您的 Home Assistant 只能按“确认报警”，不能控制或更改别的任何东西。",
           "Your Home Assistant can only press \"acknowledge\": it cannot control or change anything else."],
    linked: ["已绑定", "Linked"], unlinked: ["还没有绑定", "Not linked"],
    connected: ["已连接，共 {0} 个设备", "Connected: {0} devices"],
    connecting: ["正在连接您的服务器…", "Connecting to your broker…"],
    down: ["暂时连不上您的服务器，请检查地址、用户名和密码", "Cannot reach your broker now: check the address, user name and password"],
    host: ["服务器地址", "Broker address"], port: ["端口", "Port"], tls: ["加密连接（TLS）", "Encrypted (TLS)"],
    username: ["用户名", "User name"], password: ["密码", "Password"],
    "password-kept": ["留空则保留原来的密码", "Leave empty to keep the stored password"],
    discovery_prefix: ["发现前缀", "Discovery prefix"],
    "prefix-why": ["一般不用改，默认是 homeassistant", "Usually left as it is: homeassistant"],
    yes: ["是", "yes"], no: ["否", "no"],
    link: ["绑定", "Link"], "change-open": ["更改设置", "Change settings"], change: ["保存更改", "Save changes"], saved: ["已保存，正在连接", "Saved: connecting"],
    unlink: ["解除绑定", "Unlink"],
    "unlink-sure": ["确定解除绑定吗？Home Assistant 会删除您家的设备。", "Unlink? Home Assistant will remove your home's devices."],
    "unlink-yes": ["确定解除", "Yes, unlink"], cancel: ["取消", "Cancel"],
    "unlinked-done": ["已解除绑定。Home Assistant 会移除您家的设备，服务器地址和密码已删除。",
                      "Unlinked. Home Assistant will remove your home's devices; the address and password are deleted."],
    // the API's 422, in words, by the field it names
    "bad-host": ["不是有效的服务器地址（主机名或 IP 地址）", "Not a host name or IP address"],
    "estate-host": ["这是小区自己的服务器，请填写您家 Home Assistant 用的服务器", "That is the estate's own broker: name your Home Assistant's"],
    "bad-port": ["端口应是 1 到 65535 之间的数字", "The port is a number from 1 to 65535"],
    "bad-prefix": ["只能是一段字母、数字、_ 或 -（默认 homeassistant）", "One word of letters, digits, _ or - (default homeassistant)"],
    "too-long": ["太长了（最多 200 个字）", "Too long (200 characters at most)"],
    "bad-other": ["请检查这一项", "Please check this"],
  };
  const w = (key, ...args) => {
    const [zh, en] = WORDS[key];
    return pair(zh.replace("{0}", args[0]), en.replace("{0}", args[0]));
  };
  const FIELDS = ["host", "port", "username", "password", "discovery_prefix"];
  let root = null, box = null, me = null, onError = () => {}, links = [];

  // The homes she lives in whose link the API shows her: none for a family contact, none without the bridge.
  async function mount(section, el, account, errors) {
    box = section; root = el; me = account; onError = errors;
    links = [];
    for (const id of me.households || []) {
      try { links.push(await G.get(path(id))); } catch (e) {
        if (e instanceof G.SignedOut) throw e;
        if (e.status !== 403 && e.status !== 404) throw e;
      }
    }
    render();
  }
  const path = id => `/api/v1/sites/${me.site}/households/${id}/home-assistant`;

  function render() {
    if (!root) return;
    box.classList.toggle("hidden", !links.length);
    root.replaceChildren(G.el("p", {}, w("what")), G.el("p", { class: "meta" }, w("shared")),
      G.el("p", { class: "meta" }, w("back")), ...links.map(card));
  }

  function status(l) {
    const out = G.el("div", { class: "ha-status", role: "status", "data-enrolled": String(l.enrolled),
      "data-connected": String(!!l.connected) });
    if (!l.enrolled) { out.append(G.el("p", { class: "ha-word" }, w("unlinked"))); return out; }
    // one row a setting; a row too narrow for both (large text) puts the value under its name
    const row = (key, value) => G.el("div", { class: "row" }, G.el("dt", {}, w(key)), G.el("dd", {}, value));
    out.append(G.el("p", { class: "ha-word" }, w("linked")),
      l.connected ? G.el("p", { class: "ha-ok" }, w("connected", l.devices))
        : G.el("p", { class: l.last_error ? "ha-down" : "ha-wait" }, w(l.last_error ? "down" : "connecting")),
      ...(!l.connected && l.last_error ? [G.el("p", { class: "meta ha-error", lang: "en" }, l.last_error)] : []),
      G.el("dl", {}, row("host", l.host), row("port", String(l.port)), row("tls", w(l.tls ? "yes" : "no")),
        row("username", l.username || "—"), row("discovery_prefix", l.discovery_prefix)));
    return out;
  }

  // a box with its name, a hint beneath, and the API's message about it (read out with the box)
  function field(name, input, hint) {
    const error = G.el("p", { class: "field-error", id: `${input.id}-error`, "data-error": name, "aria-live": "polite" });
    const note = hint ? G.el("p", { class: "meta", id: `${input.id}-hint` }, w(hint)) : null;
    input.setAttribute("aria-describedby", [note && note.id, error.id].filter(Boolean).join(" "));
    return G.el("div", { class: "field", "data-field": name }, G.el("label", { for: input.id }, w(name)), input,
      ...(note ? [note] : []), error);
  }

  function card(l) {
    const wrap = G.el("div", { class: "ha-link", "data-household": l.household });
    const input = (name, attrs) => G.el("input", { name, id: `ha-${l.household}-${name}`, ...attrs });
    const host = input("host", { value: l.host || "", autocomplete: "off", autocapitalize: "off", spellcheck: "false" });
    const port = input("port", { value: String(l.port || 1883), inputmode: "numeric" });
    const tls = input("tls", { type: "checkbox", ...(l.tls ? { checked: "" } : {}) });
    const user = input("username", { value: l.username || "", autocomplete: "off", autocapitalize: "off" });
    const pass = input("password", { type: "password", autocomplete: "new-password" });
    const prefix = input("discovery_prefix", { value: l.discovery_prefix || "homeassistant", autocapitalize: "off" });
    const said = G.el("p", { class: "ha-said", role: "status" });
    const form = G.el("form", { class: "ha-form", novalidate: "" },
      field("host", host), field("port", port),
      G.el("label", { class: "switch" }, tls, " ", w("tls")),
      field("username", user), field("password", pass, l.has_password ? "password-kept" : ""),
      field("discovery_prefix", prefix, "prefix-why"),
      G.el("button", { class: "primary", type: "submit" }, w(l.enrolled ? "change" : "link")));
    form.addEventListener("submit", async ev => {
      ev.preventDefault();
      form.querySelectorAll(".field-error").forEach(e => e.replaceChildren());
      form.querySelectorAll("[aria-invalid]").forEach(e => e.removeAttribute("aria-invalid"));
      const p = port.value.trim();
      const body = { host: host.value.trim(), port: /^\d{1,9}$/.test(p) ? Number(p) : p, tls: tls.checked,
        username: user.value, discovery_prefix: prefix.value.trim() };
      if (pass.value) body.password = pass.value;
      try {
        replace(l, await G.put(path(l.household), body));
        said_(l, "saved");
        follow(l.household, 5);
      } catch (e) {
        if (e.status !== 422 || !Array.isArray(e.detail)) return onError(e);
        showErrors(form, e.detail);
      }
    });
    wrap.append(status(l), said);
    // linked: the form waits behind "change", so what she sees first is that it works
    if (l.enrolled) {
      wrap.append(G.el("details", { class: "ha-change" }, G.el("summary", {}, w("change-open")), form), unlinkBox(l));
    } else wrap.append(form);
    return wrap;
  }

  function showErrors(form, detail) {
    let first = null;
    for (const d of detail) {
      const name = FIELDS.find(f => (d.loc || []).includes(f)) || "host";
      const key = name === "host" ? (/estate/.test(d.msg || "") ? "estate-host" : "bad-host")
        : name === "port" ? "bad-port" : name === "discovery_prefix" ? "bad-prefix"
        : /too_long/.test(d.type || "") ? "too-long" : "bad-other";
      const slot = form.querySelector(`[data-error="${name}"]`), input = form.querySelector(`input[name="${name}"]`);
      slot.replaceChildren(w(key));
      input.setAttribute("aria-invalid", "true");
      first = first || input;
    }
    if (first) first.focus();
  }

  function unlinkBox(l) {
    const out = G.el("div", { class: "ha-unlink" });
    const ask = G.el("button", { class: "btn unlink", type: "button" }, w("unlink"));
    ask.addEventListener("click", () => {
      const yes = G.el("button", { class: "btn danger unlink-yes", type: "button" }, w("unlink-yes"));
      const no = G.el("button", { class: "btn unlink-no", type: "button" }, w("cancel"));
      no.addEventListener("click", () => out.replaceChildren(ask));
      yes.addEventListener("click", async () => {
        try {
          await G.del(path(l.household));
          replace(l, { site: l.site, household: l.household, enrolled: false });
          said_(l, "unlinked-done");
        } catch (e) { onError(e); }
      });
      out.replaceChildren(G.el("p", { role: "alert" }, w("unlink-sure")), yes, no);
      yes.focus();
    });
    out.append(ask);
    return out;
  }

  // Just linked: read again every 2 s, at most `left` times, until connected or refused (only the status
  // box is drawn again, so nothing she is typing is lost).
  function follow(household, left) {
    setTimeout(async () => {
      const now = await G.get(path(household)).catch(() => null);
      const was = links.find(l => l.household === household);
      if (!now || !was || !was.enrolled || !now.enrolled) return;
      links = links.map(l => (l.household === household ? now : l));
      const old = root.querySelector(`.ha-link[data-household="${household}"] .ha-status`);
      if (old) old.replaceWith(status(now));
      const done = now.connected || now.last_error;  // the status box says it now, not "saved: connecting"
      if (done) root.querySelector(`.ha-link[data-household="${household}"] .ha-said`)?.replaceChildren();
      else if (left > 1) follow(household, left - 1);
    }, 2000);
  }

  // what the last action did, under the form of that home (drawn afresh)
  function said_(l, key) {
    const slot = root.querySelector(`.ha-link[data-household="${l.household}"] .ha-said`);
    if (!slot) return;
    slot.replaceChildren(w(key));
    slot.scrollIntoView({ block: "center" });
  }

  function replace(old, now) {
    links = links.map(l => (l.household === old.household ? now : l));
    render();
  }

  return { mount, refresh: render };
})();
