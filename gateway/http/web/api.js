// Shared by the resident app and the control-room console: sign-in with refresh, the API, the live stream,
// and the two languages. No framework and nothing from a CDN: the gateway serves every byte.
"use strict";

const Guardian = (() => {
  const store = window.localStorage;
  let lang = store.getItem("lang") || ((navigator.language || "zh").startsWith("zh") ? "zh" : "en");
  // The frame's own words (sign-in, the live badge); each page adds its own with setTexts.
  const frame = {
    signin: ["登录", "Sign in"], signout: ["退出", "Sign out"], username: ["用户名", "Username"],
    password: ["密码", "Password"], "bad-login": ["用户名或密码错误", "Wrong username or password"],
    "signin-wait": ["登录尝试过多，请 {0} 分钟后再试", "Too many sign-ins: try again in {0} min"],
    "signin-busy": ["系统繁忙，请稍后再试", "Sign-in is busy: try again in a moment"],
    "signin-down": ["无法连接，请检查网络", "Cannot reach the server: check the connection"],
    live: ["实时", "live"], reconnecting: ["重新连接中", "reconnecting"],
  };
  let texts = frame;

  function t(key, ...args) {
    const pair = texts[key] || [key, key];
    let s = pair[lang === "zh" ? 0 : 1];
    args.forEach((a, i) => { s = s.replace("{" + i + "}", a); });
    return s;
  }
  function setTexts(table) { texts = { ...frame, ...table }; }
  function addTexts(table) { texts = { ...texts, ...table }; }  // a page's second script adds its own words
  function setLang(l) { lang = l; store.setItem("lang", l); translate(); }
  function translate(root = document) {
    root.querySelectorAll("[data-t]").forEach(el => { el.textContent = t(el.dataset.t); });
    root.querySelectorAll("[data-t-placeholder]").forEach(el => { el.placeholder = t(el.dataset.tPlaceholder); });
    root.querySelectorAll("[data-t-label]").forEach(el => { el.setAttribute("aria-label", t(el.dataset.tLabel)); });
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  }

  const tokens = () => ({ access: store.getItem("access"), refresh: store.getItem("refresh") });
  function keep(pair) { store.setItem("access", pair.access_token); store.setItem("refresh", pair.refresh_token); }
  function forget() { store.removeItem("access"); store.removeItem("refresh"); }

  // Says why a sign-in did not go through, so a throttled or busy sign-in is never shown as a wrong password
  // (a family member told "wrong password" tries again, and stays locked out longer).
  async function signIn(username, password) {
    const body = new URLSearchParams({ username, password });
    let r;
    try { r = await fetch("/api/v1/auth/token", { method: "POST", body }); } catch { return t("signin-down"); }
    if (r.ok) { keep(await r.json()); return ""; }
    const after = Number(r.headers.get("retry-after")) || 60;
    if (r.status === 429) return t("signin-wait", String(Math.max(1, Math.ceil(after / 60))));
    if (r.status === 503) return t("signin-busy");
    if (r.status === 401 || r.status === 422) return t("bad-login");
    return t("signin-down");
  }

  async function refresh() {
    const { refresh } = tokens();
    if (!refresh) return false;
    const r = await fetch("/api/v1/auth/refresh", {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ refresh_token: refresh }),
    });
    if (!r.ok) { forget(); return false; }
    keep(await r.json());
    return true;
  }

  class SignedOut extends Error {}

  async function call(method, path, body) {
    for (let attempt = 0; attempt < 2; attempt++) {
      const headers = { authorization: "Bearer " + (tokens().access || "") };
      if (body !== undefined) headers["content-type"] = "application/json";
      const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      if (r.status === 401 && attempt === 0 && await refresh()) continue;
      if (r.status === 401) { forget(); throw new SignedOut(); }
      if (r.status === 204) return null;
      const data = await r.json().catch(() => ({}));
      if (!r.ok) {  // the status and the API's detail go with the error: a page shows a 422 next to its field
        const e = new Error(typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail));
        throw Object.assign(e, { status: r.status, detail: data.detail });
      }
      return data;
    }
  }
  const get = path => call("GET", path);
  const post = (path, body) => call("POST", path, body);
  const put = (path, body) => call("PUT", path, body);
  const del = path => call("DELETE", path);

  // Server-Sent Events read with fetch, so the token goes in a header and never in a URL (logs keep URLs).
  // Reconnects with capped, jittered backoff; `onOpen` reloads the board after every (re)connect, so nothing
  // that happened while disconnected is missed.
  function live(onEvent, onOpen, onState) {
    let stopped = false, delay = 1000;
    (async function loop() {
      while (!stopped) {
        try {
          const r = await fetch("/api/v1/alarms/stream", { headers: { authorization: "Bearer " + tokens().access } });
          if (r.status === 401) { if (!(await refresh())) { onState("signed-out"); return; } continue; }
          if (!r.ok) throw new Error(String(r.status));
          onState("live"); delay = 1000;
          await onOpen();
          const reader = r.body.getReader();
          const decoder = new TextDecoder();
          let buf = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buf += decoder.decode(value, { stream: true });
            let cut;
            while ((cut = buf.indexOf("\n\n")) >= 0) {
              const block = buf.slice(0, cut); buf = buf.slice(cut + 2);
              let kind = "message", data = "";
              for (const line of block.split("\n")) {
                if (line.startsWith("event: ")) kind = line.slice(7);
                else if (line.startsWith("data: ")) data += line.slice(6);
              }
              if (kind === "alarm") onEvent(JSON.parse(data));
            }
          }
        } catch (e) { /* network gone: retry below */ }
        onState("reconnecting");
        await new Promise(res => setTimeout(res, delay * (0.5 + Math.random())));
        delay = Math.min(delay * 2, 30000);
      }
    })();
    return () => { stopped = true; };
  }

  function el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
    return e;
  }
  // The frame both pages share: the sign-in form, the sign-out button, the language switch and the live
  // badge. `onSignIn(me)` fills the page (false: this page is not for that account); `watch` follows the
  // live stream while signed in.
  function shell({ main, onSignIn, onLang, onError }) {
    const $ = id => document.getElementById(id);
    let stop = null, state = "";
    function signedOut() {
      if (stop) stop();
      stop = null;
      $(main).classList.add("hidden");
      $("signout").classList.add("hidden");
      $("live").className = "badge hidden";
      $("signin-box").classList.remove("hidden");
    }
    async function signedIn() {
      if ((await onSignIn(await get("/api/v1/me"))) === false) { forget(); return; }
      $("signin-box").classList.add("hidden");
      $(main).classList.remove("hidden");
      $("signout").classList.remove("hidden");
    }
    function watch(onEvent, onOpen) {
      stop = live(onEvent, onOpen, now => {
        if (now === "signed-out") return signedOut();
        state = now;
        $("live").textContent = t(state);
        $("live").className = "badge " + state;
      });
    }
    $("lang").value = lang;
    $("lang").addEventListener("change", e => {
      setLang(e.target.value);
      if (state) $("live").textContent = t(state);
      onLang();
    });
    $("signin").addEventListener("submit", async ev => {
      ev.preventDefault();
      const f = new FormData(ev.target);
      const refused = await signIn(f.get("username"), f.get("password"));
      $("signin-error").textContent = refused;
      if (!refused) signedIn().catch(onError);
    });
    $("signout").addEventListener("click", () => { forget(); signedOut(); });
    translate();
    if (tokens().access) signedIn().catch(onError);
    return { watch, signedOut };
  }

  const when = ts => ts ? new Date(ts * 1000).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB") : "";

  return { t, setTexts, addTexts, setLang, translate, lang: () => lang, signIn, forget, tokens, call, get, post, put, del, live, shell, el, when, SignedOut };
})();
