// Shows the alarm, confirms to the gateway that it was shown, and acknowledges from the action button.
// iOS Safari shows no action buttons: a tap opens the acknowledgement page instead.
self.addEventListener("push", event => {
  const m = event.data ? event.data.json() : {};
  const zh = (self.navigator.language || "zh").startsWith("zh");
  const urgent = m.severity === "P1" || m.severity === "P2";
  const shown = self.registration.showNotification(zh ? m.title_zh : m.title, {
    body: zh ? m.body_zh : m.body,
    tag: m.alarm_id,
    renotify: true,
    requireInteraction: urgent,
    data: m,
    actions: m.ack ? [{ action: "ack", title: zh ? "确认" : "Acknowledge" }] : [],
  });
  const receipt = m.ack && m.delivery
    ? fetch("/api/v1/push/receipt", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ delivery: m.delivery, token: m.ack }),
      }).catch(() => {})
    : Promise.resolve();
  event.waitUntil(Promise.all([shown, receipt]));
});

self.addEventListener("notificationclick", event => {
  const m = event.notification.data || {};
  event.notification.close();
  if (event.action === "ack" && m.ack) {
    event.waitUntil(fetch("/api/v1/ack/" + m.ack, { method: "POST" }));
  } else if (m.ack) {
    event.waitUntil(clients.openWindow("/ack/" + m.ack));
  } else {
    event.waitUntil(clients.openWindow("/app/"));
  }
});
