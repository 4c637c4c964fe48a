// Enrolment: the link from the property office carries ?enroll=TOKEN, naming the person this phone is for.
const statusBox = document.getElementById("status");
const say = (zh, en) => { statusBox.textContent = zh + " / " + en; };
const token = new URLSearchParams(location.search).get("enroll") || localStorage.getItem("enroll");
if (token) localStorage.setItem("enroll", token);

function keyBytes(b64) {
  const s = atob(b64.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - b64.length % 4) % 4));
  return Uint8Array.from(s, c => c.charCodeAt(0));
}

async function enable() {
  if (!token) return say("请使用物业发给您的登记链接打开本页", "Open this page from your enrolment link");
  if (!("serviceWorker" in navigator) || !("PushManager" in window))
    return say("此浏览器不支持推送（iPhone 请先添加到主屏幕）", "This browser cannot receive push (iPhone: add to Home Screen first)");
  const reg = await navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" });
  if (await Notification.requestPermission() !== "granted")
    return say("未允许通知", "Notifications were not allowed");
  const { publicKey } = await (await fetch("/api/v1/push/key")).json();
  const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(publicKey) });
  const res = await fetch("/api/v1/push/subscriptions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token, subscription: sub.toJSON(), agent: navigator.userAgent.slice(0, 300) }),
  });
  if (res.ok) say("已开启，报警会推送到本机", "Done: alarms will reach this phone");
  else say("登记失败：" + res.status, "Enrolment failed: " + (await res.text()));
}
document.getElementById("enable").addEventListener("click", () => enable().catch(e => say("出错了", String(e))));
