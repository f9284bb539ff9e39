// The console's building blocks: elements (every string set as text), the status line, busy
// buttons, the two-step delete and the copy button.

export const $ = (id) => document.getElementById(id);

/** An element: `props` sets `text` (as text), `class`, `on<event>` handlers and attributes. */
export function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") e.textContent = String(v);
    else if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c);
  return e;
}

export function when(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

export function timeEl(iso) {
  return el("time", { datetime: iso, text: when(iso) });
}

/** Shows a message under the header: the API's own words for errors. */
export function status(text, kind = "info") {
  const s = $("status");
  s.textContent = text;
  s.className = kind;
  s.setAttribute("role", kind === "error" ? "alert" : "status");
  s.hidden = !text;
}

export function fail(e) {
  status(e && e.message ? e.message : String(e), "error");
}

/** Runs `fn`, showing its error; disables `button` meanwhile. */
export async function busy(button, fn) {
  if (button) button.disabled = true;
  try {
    status("");
    return await fn();
  } catch (e) {
    fail(e);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

/**
 * A delete in two steps: the first click only asks (`question`, with Delete and Cancel
 * buttons in place of the first one); Delete runs `action`, Cancel puts the first button back.
 */
export function deleteButton({ label, question, action, linkStyle = true }) {
  const wrap = el("span", { class: "confirm" });
  const ask = el("button", { type: "button", class: linkStyle ? "link delete" : "delete", text: "Delete", "aria-label": label });
  const reset = () => { wrap.replaceChildren(ask); ask.focus(); };
  ask.addEventListener("click", () => {
    const yes = el("button", { type: "button", class: "danger confirm-yes", text: "Delete" });
    const no = el("button", { type: "button", class: "confirm-no", text: "Cancel", onclick: reset });
    yes.addEventListener("click", () => busy(yes, action));
    wrap.replaceChildren(el("span", { class: "question", role: "alert", text: question }), " ", yes, " ", no);
    no.focus();
  });
  wrap.append(ask);
  return wrap;
}

/** A button that copies `text()`; where the clipboard is refused, it selects `target` instead. */
export function copyButton(id, text, target) {
  const b = el("button", { type: "button", id, class: "copy", text: "Copy" });
  b.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text());
      b.textContent = "Copied";
      b.dataset.state = "copied";
    } catch {
      const range = document.createRange();
      range.selectNodeContents(target);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      b.textContent = "Selected: press Ctrl+C";
      b.dataset.state = "selected";
    }
    setTimeout(() => { b.textContent = "Copy"; delete b.dataset.state; }, 4000);
  });
  return b;
}
