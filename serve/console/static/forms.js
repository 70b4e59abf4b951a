// The console's forms and lists: the launch form checked on the server as it is filled
// in (errors next to their fields, Launch disabled while any is wrong), and the
// executions list refreshing its rows while any execution has not ended.
// A plain ES module, no dependencies; every request goes to this server.

const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? "";

// --- the launch form --------------------------------------------------------------

function mountLaunchForm(form) {
  const submit = form.querySelector("[data-testid=launch-submit]");
  const formError = form.querySelector("[data-testid=form-error]");
  let latest = 0; // the number of the newest check: older answers are dropped
  let timer = null;

  function show(result) {
    for (const field of form.querySelectorAll("[data-field]")) {
      const message = result.errors[field.dataset.field] ?? "";
      field.querySelector("[data-testid=field-error]").textContent = message;
      field.classList.toggle("invalid", message !== "");
    }
    formError.textContent = result.form_error ?? "";
    formError.hidden = !result.form_error;
    submit.disabled = !result.valid;
  }

  async function check() {
    const mine = ++latest;
    let result;
    try {
      const response = await fetch(form.dataset.validateUrl, {
        method: "POST", body: new FormData(form), credentials: "same-origin",
        headers: {"X-CSRF-Token": csrf, "Accept": "application/json"},
      });
      result = response.ok ? await response.json()
        : {valid: false, errors: {}, form_error: `the server could not check the form (HTTP ${response.status}); reload the page`};
    } catch (error) {
      result = {valid: false, errors: {}, form_error: `the server could not be reached: ${error}`};
    }
    if (mine === latest) show(result);
  }

  function soon() {
    submit.disabled = true; // until the server has seen what changed
    clearTimeout(timer);
    timer = setTimeout(check, 250);
  }

  // Every edit fires "input" (checkboxes and selects too). Not "change": it fires as a
  // field loses focus, which a click on Launch does, and would disable it under the click.
  form.addEventListener("input", (event) => {
    const toggle = event.target.closest("[data-testid=none]");
    if (toggle) {
      const input = toggle.closest("[data-field]").querySelector("[data-testid=input]");
      if (input) input.disabled = toggle.checked;
    }
    soon();
  });
  form.addEventListener("submit", () => { submit.disabled = true; });
  // What was typed before this module ran (it runs after the page is parsed) fired no
  // event here: check it now.
  const edited = [...form.elements].some((e) =>
    (e.type === "checkbox" ? e.checked !== e.defaultChecked
                           : "defaultValue" in e && e.value !== e.defaultValue));
  if (edited) soon();
}

// --- the executions list ----------------------------------------------------------

const REFRESH_MS = 5000;

function mountRefresh(body) {
  const pending = () => body.querySelector("[data-terminal='0']") !== null;
  let timer = null;
  function schedule(ms) {
    clearTimeout(timer);
    timer = pending() ? setTimeout(refresh, ms) : null;
  }
  async function refresh() {
    if (document.visibilityState === "visible") {
      try {
        // Not text/html: a lost session answers 401 instead of the login page.
        const response = await fetch(body.dataset.refreshUrl, {
          credentials: "same-origin", headers: {"X-Fragment": "1", "Accept": "*/*"},
        });
        if (response.ok) body.innerHTML = await response.text();
      } catch (error) {
        // The server is unreachable for now: the next round tries again.
      }
    }
    schedule(REFRESH_MS);
  }
  schedule(REFRESH_MS);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") schedule(0);
  });
}

for (const form of document.querySelectorAll("form[data-validate-url]")) mountLaunchForm(form);
for (const body of document.querySelectorAll("tbody[data-refresh-url]")) mountRefresh(body);
