// The console's notification settings: mine by default, or a person's at my site by their id (property
// staff and admins; an admin writes site/id). The form itself is prefs.js, shared with the resident app.
"use strict";
(() => {
  const G = Guardian, $ = id => document.getElementById(id);
  const words = {
    "prefs-title": ["通知设置", "Notification settings"], "prefs-load": ["打开", "Open"],
    placeholder: ["人员编号（空：我自己）", "Person id (empty: mine)"],
  };
  const say = key => words[key][G.lang() === "zh" ? 0 : 1];
  function label() {
    $("prefs-title").textContent = say("prefs-title");
    $("prefs-load").textContent = say("prefs-load");
    $("prefs-person").placeholder = say("placeholder");
  }
  async function open() {
    const who = $("prefs-person").value.trim();
    let url = "/api/v1/me/preferences";
    if (who) {
      const me = await G.get("/api/v1/me");
      const [site, person] = who.includes("/") ? who.split("/", 2) : [me.site, who];
      url = `/api/v1/sites/${encodeURIComponent(site)}/people/${encodeURIComponent(person)}/preferences`;
    }
    await GuardianPrefs.mount($("staff-prefs"), url);
  }
  const shown = e => { $("staff-prefs").replaceChildren(G.el("p", { class: "error" }, String(e.message || e))); };
  $("prefs-who").addEventListener("submit", ev => { ev.preventDefault(); open().catch(shown); });
  $("lang").addEventListener("change", () => { label(); if ($("staff-prefs").firstChild) open().catch(shown); });
  label();
})();
