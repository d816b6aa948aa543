// The live view: polls /api/state and redraws. Customer text only ever goes into the
// page through textContent (via el()), never as HTML: students will send <script>.
"use strict";

const POLL_MS = 500;
const token = new URLSearchParams(location.search).get("token");
const stateUrl = "api/state" + (token ? "?token=" + encodeURIComponent(token) : "");

// Makes an element with a class and text; children may follow.
function el(tag, cls, text, ...children) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  for (const c of children) if (c) e.appendChild(c);
  return e;
}

function $(id) { return document.getElementById(id); }

function replace(parent, children) {
  parent.replaceChildren(...children);
}

function show(id, visible) { $(id).classList.toggle("hidden", !visible); }

function clock(ms) {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()]
    .map((n) => String(n).padStart(2, "0")).join(":");
}

function ago(ms, now) {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return s + " 秒";
  if (s < 3600) return Math.floor(s / 60) + " 分 " + (s % 60) + " 秒";
  return Math.floor(s / 3600) + " 小时 " + Math.floor((s % 3600) / 60) + " 分";
}

function yuan(x) { return (Math.round(x * 100) / 100).toString() + " 元"; }

// The decoded text of a message, or a note that it could not be decoded.
function textOf(said) {
  // No text and no bytes: the framer dropped a message over the length limit.
  if (said.text === null && said.len === 0) return el("span", "undecodable", "(太长,已丢弃 too long, dropped)");
  if (said.text === null) return el("span", "undecodable", "(无法解码 undecodable)");
  return el("span", "text", said.text === "" ? "(空消息 empty)" : said.text);
}

// Tags saying how the message was framed.
function framing(said) {
  const tags = [];
  if (said.end === "newline") tags.push(el("span", "tag", "换行结束 newline"));
  if (said.end === "pause") tags.push(el("span", "tag pause", "停顿结束 ended by pause"));
  if (said.end === "eof") tags.push(el("span", "tag", "连接关闭结束 ended by close"));
  if (said.reads > 1) tags.push(el("span", "tag split", "半包:分 " + said.reads + " 次收到 (split over " + said.reads + " reads)"));
  if (said.shared) tags.push(el("span", "tag sticky", "粘包:与其他消息同一次收到 (sticky)"));
  if (said.cut) tags.push(el("span", "tag bad", "已截断,共 " + said.len + " 字节 (cut)"));
  if (said.encoding) tags.push(el("span", "tag", said.encoding));
  return el("div", "framing", null, ...tags);
}

function drawAddresses(s) {
  replace($("addresses"), s.addresses.map((a) =>
    el("li", "mono", a.addr, a.interface ? el("span", "iface", a.interface) : null)));
  $("encoding").textContent = s.encoding;
}

function drawCustomers(s) {
  const rows = s.customers.map((c) => {
    const last = c.recent.length ? c.recent[c.recent.length - 1] : null;
    const lastCell = el("td", null, null);
    if (last) {
      lastCell.appendChild(textOf(last));
      lastCell.appendChild(el("div", "hex", last.hex));
    }
    return el("tr", null, null,
      el("td", "mono", c.peer),
      el("td", null, clock(c.since) + "(" + ago(c.since, s.now) + ")"),
      el("td", c.mixed ? "tag-cell" : null, (c.encoding || "—") + (c.mixed ? " (混用 mixed)" : "")),
      el("td", "num", c.messages),
      el("td", "num", yuan(c.spent)),
      lastCell);
  });
  replace($("customers").tBodies[0], rows);
  $("customer-count").textContent = s.customers.length + " 人 · 共服务 " + s.served + " · 拒绝 " + s.refused;
  show("customers", s.customers.length > 0);
  show("no-customers", s.customers.length === 0);
}

const ALERT_KINDS = {
  wrong_encoding: "编码不对 wrong encoding",
  refused: "拒之门外 turned away",
  cut_off: "已断开 cut off",
};

function drawAlerts(s) {
  replace($("alerts"), s.alerts.map((a) => {
    const li = el("li", a.kind, null,
      el("span", "time", clock(a.at) + " "),
      el("span", "kind", ALERT_KINDS[a.kind] || a.kind),
      el("span", "mono", a.peer));
    if (a.said) {
      li.appendChild(el("div", "hex", "收到 bytes: " + a.said.hex));
    }
    li.appendChild(el("span", "reply", "店家提示 shop said: " + a.reply));
    return li;
  }));
  show("no-alerts", s.alerts.length === 0);
}

function drawItems(s) {
  replace($("items"), s.items.map((it) => {
    const bar = el("div", "bar", null);
    if (it.remaining === null) {
      const sold = el("div", "sold", null);
      sold.style.width = Math.min(100, it.sold) + "%";
      bar.appendChild(sold);
    } else {
      const all = it.sold + it.remaining;
      const sold = el("div", "sold", null);
      const left = el("div", "left", null);
      sold.style.width = (all ? (100 * it.sold) / all : 0) + "%";
      left.style.width = (all ? (100 * it.remaining) / all : 0) + "%";
      bar.appendChild(sold);
      bar.appendChild(left);
    }
    const left = it.remaining === null ? "不限量" : it.remaining === 0 ? "已卖完" : "剩 " + it.remaining;
    return el("div", "item", null,
      el("span", "name", it.name),
      bar,
      el("span", "figures", "售 " + it.sold + " · " + left + " · " + yuan(it.takings)));
  }));
  let total = "合计 total: 售出 " + s.total.sold + " 件,收入 " + yuan(s.total.takings);
  if (s.all_counters) {
    total += " · 所有柜台 all counters: 售出 " + s.all_counters.sold + " 件,收入 " + yuan(s.all_counters.takings);
  }
  if (s.items_more) {
    total += " · 另有 " + s.items_more + " 种商品未列出 (more items not listed)";
  }
  $("total").textContent = total;
}

function drawFeed(s) {
  replace($("feed"), s.feed.map((m) => el("li", null, null,
    el("span", "time", clock(m.at)),
    el("span", "mono", m.peer),
    textOf(m),
    el("span", "reply", m.reply),
    el("div", "hex", m.hex === "" ? "(无字节 no bytes)" : m.hex),
    framing(m))));
  show("no-feed", s.feed.length === 0);
}

function draw(s) {
  // The ledger cannot record sales: shown above everything, as text.
  $("alarm").textContent = s.alarm ? "账本出错 ledger alarm: " + s.alarm : "";
  show("alarm", Boolean(s.alarm));
  drawAddresses(s);
  drawCustomers(s);
  drawAlerts(s);
  drawItems(s);
  drawFeed(s);
  $("footer").textContent = "更新于 updated " + clock(s.now) +
    (s.dropped ? " · 来不及显示的消息 messages not shown (too many): " + s.dropped : "");
}

function status(ok, text) {
  const st = $("status");
  st.textContent = text;
  st.className = "status " + (ok ? "ok" : "bad");
}

async function poll() {
  try {
    const res = await fetch(stateUrl, { cache: "no-store" });
    if (res.status === 403) {
      status(false, "需要访问令牌 (token required)");
    } else if (!res.ok) {
      status(false, "出错 error " + res.status);
    } else {
      draw(await res.json());
      status(true, "实时 live");
    }
  } catch (e) {
    status(false, "连接中断,正在重试… (reconnecting)");
  }
  setTimeout(poll, POLL_MS);
}

poll();
