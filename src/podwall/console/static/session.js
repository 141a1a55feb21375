// Logging in, the forced password change of the first-run admin, and the account page
// (password and API tokens for scripts).

import { api, setCsrf } from "./api.js";
import { clear, confirmDialog, errorBox, formatTime, h, notify, path } from "./dom.js";
import { go, to, whereTo } from "./nav.js";

const MIN_PASSWORD = 12;
let loginPassword = null; // kept in memory only until the forced change is done

function field(label, attrs) {
  return h("label", { class: "field" }, h("span", { class: "label" }, label), h("input", attrs));
}

export function loginView(ctx) {
  const error = h("div", { class: "form-error", role: "alert" });
  const username = field("Username", { name: "username", autocomplete: "username", required: true });
  const password = field("Password", {
    name: "password", type: "password", autocomplete: "current-password", required: true,
  });
  const submit = h("button", { type: "submit", class: "primary" }, "Log in");
  const form = h("form", { class: "card narrow login" },
    h("h1", {}, "podwall console"),
    h("p", { class: "muted" }, "Manage NetworkPolicies across clusters."),
    username, password, error, h("div", { class: "actions" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear(error);
    submit.disabled = true;
    const body = { username: form.username.value, password: form.password.value };
    try {
      const answer = await api.post("/session", body, { quiet: true });
      setCsrf(answer.csrf_token);
      const me = await api.get("/me", undefined, { quiet: true });
      me.must_change_password = Boolean(answer.must_change_password || me.must_change_password);
      ctx.setMe(me);
      loginPassword = me.must_change_password ? body.password : null;
      go(me.must_change_password ? to.password() : whereTo());
    } catch (failure) {
      error.textContent = failure.status === 401 ? "Wrong username or password." : failure.message;
      submit.disabled = false;
      form.password.select();
    }
  });
  ctx.section.append(form);
  form.username.focus();
}

function passwordForm({ username, needCurrent, onDone, submitText }) {
  const error = h("div", { class: "form-error", role: "alert" });
  const inputs = [
    h("input", { name: "username", autocomplete: "username", value: username, hidden: true, readonly: true }),
    needCurrent && field("Current password", {
      name: "current", type: "password", autocomplete: "current-password", required: true,
    }),
    field(`New password (at least ${MIN_PASSWORD} characters)`, {
      name: "fresh", type: "password", autocomplete: "new-password", required: true,
      minlength: MIN_PASSWORD,
    }),
    field("Repeat the new password", {
      name: "again", type: "password", autocomplete: "new-password", required: true,
    }),
  ];
  const form = h("form", { class: "stack" }, inputs, error,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, submitText)));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const fresh = form.fresh.value;
    if (fresh.length < MIN_PASSWORD) error.textContent = `Use at least ${MIN_PASSWORD} characters.`;
    else if (fresh !== form.again.value) error.textContent = "The two new passwords differ.";
    else {
      error.textContent = "";
      const current = needCurrent ? form.current.value : loginPassword;
      try {
        await api.post("/me/password", { current_password: current, new_password: fresh },
          { quiet: true });
        loginPassword = null;
        form.reset();
        onDone();
      } catch (failure) {
        error.textContent = failure.message;
      }
    }
  });
  return form;
}

export function passwordView(ctx) {
  const forced = Boolean(ctx.me && ctx.me.must_change_password);
  const form = passwordForm({
    username: ctx.me.username,
    needCurrent: !(forced && loginPassword),
    submitText: "Change password",
    onDone: () => {
      ctx.setMe({ ...ctx.me, must_change_password: false });
      notify("Password changed.", "ok");
      go(whereTo());
    },
  });
  ctx.section.append(h("div", { class: "card narrow" },
    h("h1", {}, "Choose your password"),
    h("p", { class: "muted" }, forced
      ? `Welcome, ${ctx.me.username}. The one-time password works only once: choose your own to continue.`
      : "Choose a new password."),
    form));
  form.querySelector("input:not([hidden])").focus();
}

async function tokensCard() {
  const list = h("div");
  const shown = h("div");
  const reload = async () => {
    const tokens = await api.get("/tokens");
    clear(list, tokens.length === 0 ? h("p", { class: "muted" }, "No API tokens yet.") :
      h("table", { class: "table" },
        h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Created"), h("th", {}, "Last used"), h("th"))),
        h("tbody", {}, tokens.map((t) => h("tr", {},
          h("td", {}, t.name), h("td", {}, formatTime(t.created_at)),
          h("td", {}, t.last_used_at ? formatTime(t.last_used_at) : "never"),
          h("td", {}, h("button", {
            type: "button", class: "link danger",
            onclick: async () => {
              const sure = await confirmDialog({
                title: "Revoke token", body: `Scripts using the token "${t.name}" will stop working.`,
                confirm: "Revoke", danger: true,
              });
              if (sure) await api.del(path`/tokens/${t.id}`).then(reload, (e) => notify(e.message, "error"));
            },
          }, "Revoke")))))));
  };
  const name = h("input", { name: "token-name", required: true, placeholder: "ci-pipeline", "aria-label": "Token name" });
  const form = h("form", { class: "inline" }, name, h("button", { type: "submit", class: "secondary" }, "Create token"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const created = await api.post("/tokens", { name: name.value });
      clear(shown, h("div", { class: "callout" },
        h("p", {}, `Token "${created.name}" (shown once; send it as Authorization: Bearer …):`),
        h("code", { class: "secret" }, created.token)));
      name.value = "";
      await reload();
    } catch (failure) {
      clear(shown, errorBox(failure.message));
    }
  });
  try {
    await reload();
  } catch (failure) {
    clear(list, errorBox(failure.message));
  }
  return h("div", { class: "card" }, h("h2", {}, "API tokens"),
    h("p", { class: "muted" }, "For scripts and CI: the same REST API, without a browser session."),
    form, shown, list);
}

export async function accountView(ctx) {
  ctx.section.append(
    h("h1", {}, `Account: ${ctx.me.username}`),
    h("p", { class: "muted" }, ctx.me.is_admin ? "Administrator of every cluster." :
      `Roles: ${Object.entries(ctx.me.roles || {}).map(([c, r]) => `${r} on ${c}`).join(", ") || "none yet"}`),
    h("div", { class: "card half" }, h("h2", {}, "Change password"), passwordForm({
      username: ctx.me.username, needCurrent: true, submitText: "Change password",
      onDone: () => notify("Password changed.", "ok"),
    })),
    await tokensCard(),
  );
}
