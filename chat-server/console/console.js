// The console: a client of the public API and nothing else. Four views (applications, an
// application's chats, a chat's messages, a chat's search); the performance panel is perf.js.
//
// Tokens never enter the page's URL: the address stays "/", the current view (which holds the
// application's token) lives in this tab's history state and sessionStorage, and the admin
// token only in sessionStorage. Every string from the server is set with textContent.

import { request, appPath } from "./api.js";
import { startPerf } from "./perf.js";
import { $, el, when, timeEl, status, fail, busy, deleteButton, copyButton } from "./ui.js";

const ADMIN_KEY = "chat-console.admin";
const VIEW_KEY = "chat-console.view";
const PAGE = 50;
const SEARCH_PAGE = 20;
const SORTS = [
  ["newest", "Newest first"],
  ["oldest", "Oldest first"],
  ["relevance", "Best match first"],
];

// ---------------------------------------------------------------------------------------------
// Navigation: the URL stays "/"; the view is in history.state and sessionStorage.

let current = { view: "home" };
let leaving = [];

function save(state) {
  sessionStorage.setItem(VIEW_KEY, JSON.stringify(state));
}

function navigate(state, push = true) {
  for (const fn of leaving) fn();
  leaving = [];
  current = state;
  save(state);
  if (push) history.pushState(state, "", "/");
  else history.replaceState(state, "", "/");
  status("");
  render();
}

function crumbs() {
  const ol = $("crumbs");
  ol.replaceChildren();
  const add = (label, state) => {
    const li = el("li");
    if (state) li.append(el("button", { type: "button", class: "link", text: label, onclick: () => navigate(state) }));
    else li.append(el("span", { "aria-current": "page", text: label }));
    ol.append(li);
  };
  const v = current.view;
  add("Applications", v === "home" ? null : { view: "home" });
  if (v === "home") return;
  const appName = current.name || "Application";
  add(appName, v === "app" ? null : { view: "app", token: current.token, name: current.name });
  if (v === "app") return;
  const chatState = { view: "chat", token: current.token, name: current.name, chat: current.chat };
  add(`Chat ${current.chat}`, v === "chat" ? null : chatState);
  if (v === "search") add("Search", null);
}

function render() {
  crumbs();
  const view = $("view");
  view.replaceChildren();
  const views = { home: homeView, app: appView, chat: chatView, search: searchView };
  (views[current.view] || homeView)(view);
  document.body.dataset.view = current.view;
}

/** The view's heading, focused so keyboard and screen-reader users land on it. */
function heading(text) {
  const h = el("h2", { tabindex: "-1", id: "view-title", text });
  queueMicrotask(() => h.focus({ preventScroll: true }));
  return h;
}

// ---------------------------------------------------------------------------------------------
// Applications

function homeView(view) {
  const openToken = el("input", {
    id: "open-token", name: "token", autocomplete: "off", spellcheck: "false",
    placeholder: "32 hexadecimal characters", required: true, "aria-describedby": "open-note",
  });
  const openForm = el("form", { id: "open-form", class: "row" },
    el("label", { for: "open-token", text: "Token" }), openToken,
    el("button", { type: "submit", text: "Open" }));
  openForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const token = openToken.value.trim();
    busy(openForm.querySelector("button"), async () => {
      const { data } = await request("GET", appPath(token), { label: "/applications/{token}" });
      navigate({ view: "app", token: data.token, name: data.name });
    });
  });

  const name = el("input", { id: "app-name", name: "name", maxlength: "255", required: true, autocomplete: "off" });
  const createForm = el("form", { id: "create-app-form", class: "row" },
    el("label", { for: "app-name", text: "Name" }), name,
    el("button", { type: "submit", text: "Create" }));
  createForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    busy(createForm.querySelector("button"), async () => {
      const { data } = await request("POST", "/applications", { body: { name: name.value } });
      navigate({ view: "app", token: data.token, name: data.name });
    });
  });

  const admin = el("input", { id: "admin-token", type: "password", autocomplete: "off", spellcheck: "false" });
  admin.value = sessionStorage.getItem(ADMIN_KEY) || "";
  const tbody = el("tbody", { id: "apps" });
  const more = el("button", { type: "button", id: "apps-more", text: "More applications", hidden: true });
  let next = null;
  const list = async (fresh) => {
    const token = admin.value.trim();
    const { data, next: n } = await request("GET", fresh ? "/applications" : next, {
      admin: token, label: "/applications", query: fresh ? { limit: PAGE } : undefined,
    });
    sessionStorage.setItem(ADMIN_KEY, token);
    if (fresh) tbody.replaceChildren();
    for (const a of data) {
      tbody.append(el("tr", {},
        el("td", {}, el("button", {
          type: "button", class: "link", text: a.name,
          onclick: () => navigate({ view: "app", token: a.token, name: a.name }),
        })),
        el("td", {}, el("code", { text: a.token })),
        el("td", { class: "num", text: a.chats_count }),
        el("td", {}, timeEl(a.created_at))));
    }
    next = n;
    more.hidden = !next;
    table.hidden = false;
  };
  const table = el("table", { id: "apps-table", hidden: true },
    el("thead", {}, el("tr", {}, ...["Name", "Token", "Chats", "Created"].map((h) => el("th", { scope: "col", text: h })))),
    tbody);
  const adminForm = el("form", { id: "admin-form", class: "row" },
    el("label", { for: "admin-token", text: "Admin token" }), admin,
    el("button", { type: "submit", text: "List" }),
    el("button", {
      type: "button", id: "admin-forget", text: "Forget",
      onclick: () => {
        sessionStorage.removeItem(ADMIN_KEY);
        admin.value = "";
        tbody.replaceChildren();
        table.hidden = true;
        more.hidden = true;
      },
    }));
  adminForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    busy(adminForm.querySelector("button"), () => list(true));
  });
  more.addEventListener("click", () => busy(more, () => list(false)));

  view.append(
    heading("Applications"),
    el("section", { class: "card" },
      el("h3", { text: "Open an application" }),
      el("p", { class: "note", id: "open-note", text: "Any application opens by its token." }),
      openForm),
    el("section", { class: "card" }, el("h3", { text: "New application" }), createForm),
    el("section", { class: "card" },
      el("h3", { text: "All applications" }),
      el("p", { class: "note", text: "Listing every application needs the server's admin token. It is kept for this tab only (sessionStorage) and sent only as an Authorization header." }),
      adminForm, table, more));
  if (admin.value) busy(null, () => list(true));
}

// ---------------------------------------------------------------------------------------------
// An application's chats

function appView(view) {
  const { token } = current;
  const title = heading(current.name || "Application");
  const facts = el("dl", { class: "facts" });
  const tbody = el("tbody", { id: "chats" });
  const more = el("button", { type: "button", id: "chats-more", text: "More chats", hidden: true });
  const newChat = el("button", { type: "button", id: "new-chat", text: "New chat" });
  let next = null;

  const row = (c) => el("tr", { dataset: { number: c.number } },
    el("td", {}, el("button", {
      type: "button", class: "link", text: `Chat ${c.number}`,
      onclick: () => navigate({ view: "chat", token, name: current.name, chat: c.number }),
    })),
    el("td", { class: "num", text: c.messages_count }),
    el("td", {}, timeEl(c.created_at)),
    el("td", {}, timeEl(c.updated_at)),
    el("td", {}, deleteButton({
      label: `Delete chat ${c.number}`,
      question: `Delete chat ${c.number} and its ${c.messages_count} messages?`,
      action: async () => {
        await request("DELETE", `${appPath(token)}/chats/${c.number}`, { label: "/applications/{token}/chats/{number}" });
        tbody.querySelector(`tr[data-number="${Number(c.number)}"]`)?.remove();
        status(`Deleted chat ${c.number}`);
      },
    })));

  const loadChats = async (fresh) => {
    const { data, next: n } = await request("GET", fresh ? `${appPath(token)}/chats` : next, {
      label: "/applications/{token}/chats", query: fresh ? { limit: PAGE } : undefined,
    });
    if (fresh) tbody.replaceChildren();
    tbody.append(...data.map(row));
    next = n;
    more.hidden = !next;
  };
  newChat.addEventListener("click", () => busy(newChat, async () => {
    const { data } = await request("POST", `${appPath(token)}/chats`, { label: "/applications/{token}/chats" });
    navigate({ view: "chat", token, name: current.name, chat: data.number });
  }));
  more.addEventListener("click", () => busy(more, () => loadChats(false)));

  const deleteApp = deleteButton({
    label: "Delete this application",
    question: "Delete this application, its chats and their messages?",
    linkStyle: false,
    action: async () => {
      const name = current.name || "";
      await request("DELETE", appPath(token), {
        admin: sessionStorage.getItem(ADMIN_KEY) || undefined, label: "/applications/{token}",
      });
      navigate({ view: "home" });
      status(`Deleted application ${name}`.trim());
    },
  });
  deleteApp.id = "delete-app";
  view.append(title, facts,
    el("div", { class: "actions" }, newChat, " ", deleteApp),
    el("table", { id: "chats-table" },
      el("thead", {}, el("tr", {}, ...["Chat", "Messages", "Created", "Updated", ""].map((h) => el("th", { scope: "col", text: h })))),
      tbody),
    more);

  busy(null, async () => {
    const { data: app } = await request("GET", appPath(token), { label: "/applications/{token}" });
    if (app.name !== current.name) {
      current = { ...current, name: app.name };
      save(current);
      history.replaceState(current, "", "/");
      crumbs();
    }
    title.textContent = app.name;
    const code = el("code", { id: "app-token", text: app.token });
    facts.replaceChildren(
      el("dt", { text: "Token" }),
      el("dd", {}, code, " ", copyButton("copy-token", () => app.token, code),
        el("p", { class: "note", id: "token-note", text: "The token is this application's key: keep it, as anyone who has it can use the application. To find it again, list all applications with the admin token (Applications, or chatctl app list)." })),
      el("dt", { text: "Chats" }), el("dd", { id: "app-chats", text: app.chats_count }),
      el("dt", { text: "Created" }), el("dd", {}, timeEl(app.created_at)));
    await loadChats(true);
  });
}

// ---------------------------------------------------------------------------------------------
// Messages

/** A message's list item; `actions.edit(li, m)` and `actions.remove(li, m)` are offered when given. */
function messageItem(m, actions) {
  const li = el("li", { class: "msg", dataset: { number: m.number } });
  fillMessage(li, m, actions);
  return li;
}

function fillMessage(li, m, actions = {}) {
  const { edit, remove } = actions;
  const edited = m.updated_at !== m.created_at;
  li.replaceChildren(
    el("div", { class: "meta" },
      el("span", { class: "number", text: `#${m.number}` }),
      timeEl(m.created_at),
      edited ? el("span", { class: "edited", title: `edited ${when(m.updated_at)}`, text: "edited" }) : null,
      edit ? el("button", { type: "button", class: "link edit", text: "Edit", "aria-label": `Edit message ${m.number}`, onclick: () => edit(li, m) }) : null,
      remove ? deleteButton({ label: `Delete message ${m.number}`, question: `Delete message ${m.number}?`, action: () => remove(li, m) }) : null),
    el("p", { class: "body", text: m.body }));
  li.dataset.updatedAt = m.updated_at;
  li.dataset.shownAt = String(Date.now());
}

function chatView(view) {
  const { token, chat } = current;
  const base = `${appPath(token)}/chats/${chat}`;
  const label = "/applications/{token}/chats/{number}";
  const countEl = el("span", { id: "chat-count" });
  const liveEl = el("span", { id: "live-state", class: "badge", text: "connecting…" });
  const list = el("ol", { id: "messages", class: "messages" });
  const older = el("button", { type: "button", id: "older", class: "link", text: "Load older messages", hidden: true });
  const box = el("div", { class: "scroll", id: "message-box", tabindex: "0", role: "log", "aria-label": "Messages" }, older, list);
  const body = el("textarea", { id: "composer-body", rows: "3", required: true, "aria-describedby": "composer-hint" });
  const send = el("button", { type: "submit", id: "send", text: "Send" });
  const composer = el("form", { id: "composer" },
    el("label", { for: "composer-body", text: "New message" }), body,
    el("div", { class: "row" }, send, el("span", { class: "note", id: "composer-hint", text: "Ctrl+Enter sends" })));
  let count = 0;
  let hasOlder = false;
  // A server that answers `sort=newest` lists in ascending order does not know it yet: then
  // pages are read upwards from the count (numbers are gapless), instead of from the start.
  let ascending = false;
  let loadingOlder = false;
  let source = null;

  const shown = () => [...list.children].map((li) => Number(li.dataset.number));
  const nearBottom = () => box.scrollHeight - box.scrollTop - box.clientHeight < 40;

  const editMessage = (li, m) => {
    const area = el("textarea", { class: "edit-body", rows: "3", "aria-label": `New text of message ${m.number}` });
    area.value = m.body;
    const save = el("button", { type: "submit", text: "Save" });
    const form = el("form", { class: "edit-form" }, area,
      el("div", { class: "row" }, save,
        el("button", { type: "button", text: "Cancel", onclick: () => fillMessage(li, m, actions) })));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(save, async () => {
        const { data } = await request("PUT", `${base}/messages/${m.number}`, {
          body: { body: area.value }, label: `${label}/messages/{number}`,
        });
        upsert(data);
      });
    });
    area.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape") fillMessage(li, m, actions);
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) form.requestSubmit();
    });
    li.querySelector(".body").replaceWith(form);
    area.focus();
  };

  const deleteMessage = async (li, m) => {
    await request("DELETE", `${base}/messages/${m.number}`, { label: `${label}/messages/{number}` });
    // The stream's `deleted` event finds it gone already and counts nothing twice.
    if (li.isConnected) { li.remove(); countEl.textContent = `${--count} messages`; }
  };
  const actions = { edit: editMessage, remove: deleteMessage };

  /** Shows a message in number order, or refreshes it in place. */
  const upsert = (m, onlyIfShown = false) => {
    const existing = list.querySelector(`li[data-number="${Number(m.number)}"]`);
    if (existing) {
      // An edit older than what is shown (a replay after a reconnect) changes nothing.
      if (Date.parse(existing.dataset.updatedAt) > Date.parse(m.updated_at)) return;
      fillMessage(existing, m, actions);
      return;
    }
    if (onlyIfShown) return;
    const stick = nearBottom();
    const li = messageItem(m, actions);
    let after = null;
    for (let c = list.lastElementChild; c; c = c.previousElementSibling) {
      if (Number(c.dataset.number) < m.number) { after = c; break; }
    }
    if (after) after.after(li);
    else list.prepend(li);
    if (stick && !li.nextElementSibling) box.scrollTop = box.scrollHeight;
  };

  const loadOlder = async () => {
    if (loadingOlder || !hasOlder) return;
    loadingOlder = true;
    try {
      const numbers = shown();
      const lowest = numbers.length ? Math.min(...numbers) : undefined;
      const from = ascending ? Math.max(0, (lowest ?? 1) - 1 - PAGE) : 0;
      const query = ascending
        ? { limit: PAGE, after: from || undefined }
        : { sort: "newest", limit: PAGE, after: lowest };
      const { data, next } = await request("GET", `${base}/messages`, { label: `${label}/messages`, query });
      const before = box.scrollHeight - box.scrollTop;
      const older = data.filter((m) => lowest === undefined || m.number < lowest);
      for (const m of older) upsert(m);
      box.scrollTop = box.scrollHeight - before;
      hasOlder = (ascending ? from > 0 : Boolean(next)) && older.length > 0;
    } finally {
      loadingOlder = false;
      older.hidden = !hasOlder;
    }
  };

  const follow = () => {
    const numbers = shown();
    const after = numbers.length ? Math.max(...numbers) : 0;
    source = new EventSource(`/api/v1${base}/messages/stream?after=${after}`);
    source.addEventListener("open", () => { liveEl.textContent = "live"; liveEl.className = "badge on"; });
    source.addEventListener("error", () => { liveEl.textContent = "reconnecting…"; liveEl.className = "badge off"; });
    source.addEventListener("created", (ev) => {
      const m = JSON.parse(ev.data);
      if (!list.querySelector(`li[data-number="${Number(m.number)}"]`)) countEl.textContent = `${++count} messages`;
      upsert(m);
    });
    source.addEventListener("edited", (ev) => upsert(JSON.parse(ev.data), true));
    source.addEventListener("deleted", (ev) => {
      const { number } = JSON.parse(ev.data);
      const li = list.querySelector(`li[data-number="${Number(number)}"]`);
      if (li) { li.remove(); countEl.textContent = `${--count} messages`; }
    });
  };

  composer.addEventListener("submit", (ev) => {
    ev.preventDefault();
    busy(send, async () => {
      const { data } = await request("POST", `${base}/messages`, { body: { body: body.value }, label: `${label}/messages` });
      body.value = "";
      upsert(data);
      box.scrollTop = box.scrollHeight;
      body.focus();
    });
  });
  body.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) composer.requestSubmit();
  });
  older.addEventListener("click", () => busy(older, loadOlder));

  view.append(
    heading(`Chat ${chat}`),
    el("p", { class: "subtitle" }, countEl, " ", liveEl, " ",
      el("button", {
        type: "button", id: "open-search", text: "Search this chat",
        onclick: () => navigate({ view: "search", token, name: current.name, chat, sort: "newest" }),
      })),
    box, composer);

  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadOlder().catch(fail);
  }, { root: box });
  leaving.push(() => { observer.disconnect(); if (source) source.close(); });

  busy(null, async () => {
    const { data: c } = await request("GET", base, { label });
    count = c.messages_count;
    countEl.textContent = `${count} messages`;
    let { data, next } = await request("GET", `${base}/messages`, {
      label: `${label}/messages`, query: { sort: "newest", limit: PAGE },
    });
    if (next && data.length > 1 && data[0].number < data[data.length - 1].number) {
      ascending = true;
      const from = Math.max(0, count - PAGE);
      ({ data } = await request("GET", `${base}/messages`, {
        label: `${label}/messages`, query: { limit: PAGE, after: from || undefined },
      }));
      next = from > 0;
    }
    for (const m of data) upsert(m);
    box.scrollTop = box.scrollHeight;
    hasOlder = Boolean(next);
    older.hidden = !hasOlder;
    observer.observe(older);
    follow();
    body.focus({ preventScroll: true });
  });
}

// ---------------------------------------------------------------------------------------------
// Search

function searchView(view) {
  const { token, chat } = current;
  const base = `${appPath(token)}/chats/${chat}/messages/search`;
  const query = el("input", { id: "search-query", type: "search", required: true, autocomplete: "off", maxlength: "1024" });
  query.value = current.query || "";
  const sort = el("select", { id: "search-sort" },
    ...SORTS.map(([v, text]) => el("option", { value: v, text, selected: v === (current.sort || "newest") })));
  const go = el("button", { type: "submit", text: "Search" });
  const form = el("form", { id: "search-form", class: "row" },
    el("label", { for: "search-query", text: "Text" }), query,
    el("label", { for: "search-sort", text: "Order" }), sort, go);
  const summary = el("p", { id: "search-summary", class: "note", "aria-live": "polite" });
  const results = el("ol", { id: "search-results", class: "messages" });
  const more = el("button", { type: "button", id: "search-more", text: "More results", hidden: true });
  let next = null;
  let asked = null;

  /** The next page: the server's `Link` when it sends one, else the contract's cursor. */
  const nextOf = (data, link, params) => {
    if (link) return { path: link };
    if (data.length < params.limit) return null;
    if (params.sort === "relevance") return { query: { ...params, offset: (params.offset || 0) + data.length } };
    return { query: { ...params, after: data[data.length - 1].number } };
  };

  const run = async (fresh) => {
    let page;
    if (fresh) {
      asked = { query: query.value, sort: sort.value, limit: SEARCH_PAGE };
      current = { ...current, query: asked.query, sort: asked.sort };
      save(current);
      history.replaceState(current, "", "/");
      page = { query: asked };
    } else {
      page = next;
    }
    const { data, next: link } = page.path
      ? await request("GET", page.path, { label: "/applications/{token}/chats/{number}/messages/search" })
      : await request("GET", base, { label: "/applications/{token}/chats/{number}/messages/search", query: page.query });
    if (fresh) results.replaceChildren();
    const listed = new Set([...results.children].map((li) => Number(li.dataset.number)));
    const added = data.filter((m) => !listed.has(m.number));
    results.append(...added.map((m) => messageItem(m)));
    // A page with nothing new (a server that did not move its cursor) ends the paging.
    next = added.length ? nextOf(data, link, page.query || asked) : null;
    more.hidden = !next;
    const n = results.children.length;
    const order = SORTS.find(([v]) => v === asked.sort)?.[1].toLowerCase() || asked.sort;
    summary.textContent = `${n}${next ? "+" : ""} ${n === 1 ? "message" : "messages"} containing “${asked.query}”, ${order}`;
  };
  form.addEventListener("submit", (ev) => { ev.preventDefault(); busy(go, () => run(true)); });
  sort.addEventListener("change", () => { if (query.value.trim()) busy(go, () => run(true)); });
  more.addEventListener("click", () => busy(more, () => run(false)));

  view.append(heading(`Search chat ${chat}`), form, summary, results, more);
  if (query.value) busy(go, () => run(true));
}

// ---------------------------------------------------------------------------------------------
// Start

$("home").addEventListener("click", () => navigate({ view: "home" }));
window.addEventListener("popstate", (ev) => navigate(ev.state || { view: "home" }, false));
let saved = history.state;
if (!saved) {
  try {
    saved = JSON.parse(sessionStorage.getItem(VIEW_KEY) || "null");
  } catch {
    saved = null;
  }
}
startPerf();
navigate(saved && saved.view ? saved : { view: "home" }, false);
