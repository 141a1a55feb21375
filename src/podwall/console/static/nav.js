// Where each screen lives: hash routes (#/c/<cluster>/policies, ...), built and followed here.

const seg = encodeURIComponent;

function withQuery(hash, query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query || {})) if (value) params.set(key, value);
  const text = params.toString();
  return text ? `${hash}?${text}` : hash;
}

export const to = {
  login: () => "#/login",
  password: () => "#/password",
  account: () => "#/account",
  clusters: () => "#/clusters",
  policies: (c) => `#/c/${seg(c)}/policies`,
  create: (c, mode = "form") => `#/c/${seg(c)}/new/${mode}`,
  edit: (c, ns, name, mode = "yaml") => `#/c/${seg(c)}/edit/${seg(ns)}/${seg(name)}/${mode}`,
  history: (c, query) => withQuery(`#/c/${seg(c)}/history`, query),
  connectivity: (c) => `#/c/${seg(c)}/connectivity`,
};

let afterLogin = null; // where a logged-out visitor was going

export function rememberWhereTo(hash) {
  if (hash && !/^#\/(login|password)\b/.test(hash)) afterLogin = hash;
}

export function whereTo() {
  const hash = afterLogin;
  afterLogin = null;
  return hash || to.clusters();
}

export function go(hash) {
  if (window.location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else window.location.hash = hash;
}

// "#/c/lab/policies?x=1" -> {parts: ["c", "lab", "policies"], query: {x: "1"}}
export function parseHash(hash) {
  const [path, search = ""] = hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return { parts, query: Object.fromEntries(new URLSearchParams(search)) };
}
