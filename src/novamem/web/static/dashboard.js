/* novamem dashboard: theme, phone menu, copy buttons, sign-in. Loaded from <head> (strict CSP: no inline
   script anywhere); the theme is applied at once so the first paint has it, the rest after parsing. */
(function () {
  "use strict";

  var root = document.documentElement;
  var THEME_KEY = "nm-theme";

  function storedTheme() {
    try {
      var theme = window.localStorage.getItem(THEME_KEY);
      return theme === "light" || theme === "dark" ? theme : null;
    } catch (error) {
      return null;
    }
  }

  function systemTheme() {
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  root.setAttribute("data-theme", storedTheme() || systemTheme());
  root.setAttribute("data-js", "");

  function bindThemeToggles() {
    var toggles = document.querySelectorAll("[data-theme-toggle]");
    function sync() {
      var dark = root.getAttribute("data-theme") === "dark";
      toggles.forEach(function (toggle) { toggle.setAttribute("aria-pressed", String(dark)); });
    }
    toggles.forEach(function (toggle) {
      toggle.hidden = false;
      toggle.addEventListener("click", function () {
        var next = root.getAttribute("data-theme") === "dark" ? "light" : "dark";
        root.setAttribute("data-theme", next);
        try { window.localStorage.setItem(THEME_KEY, next); } catch (error) { /* private mode: not kept */ }
        sync();
      });
    });
    sync();
  }

  function bindMenu() {
    var toggle = document.querySelector("[data-menu-toggle]");
    if (!toggle) return;
    var menu = document.getElementById(toggle.getAttribute("aria-controls"));
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", String(open));
      menu.classList.toggle("open", open);
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && menu.classList.contains("open")) {
        toggle.setAttribute("aria-expanded", "false");
        menu.classList.remove("open");
        toggle.focus();
      }
    });
  }

  function bindCopyButtons() {
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source) return;
      var label = button.textContent;
      button.hidden = false;
      button.addEventListener("click", function () {
        var text = "value" in source ? source.value : source.textContent;
        var done = function (ok) {
          button.textContent = ok ? "Copied" : "Select and copy";
          window.setTimeout(function () { button.textContent = label; }, 2000);
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(false); });
        } else {
          var range = document.createRange();
          range.selectNodeContents(source);
          window.getSelection().removeAllRanges();
          window.getSelection().addRange(range);
          done(false);
        }
      });
    });
  }

  /* ---- sign-in: JSON to /api/auth/sign-in/email, errors next to the form ---------------------------- */

  function showFieldError(form, name, message) {
    var input = form.elements[name];
    var note = document.getElementById("f-" + name + "-error");
    note.textContent = message;
    note.hidden = !message;
    if (message) {
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", note.id);
    } else {
      input.removeAttribute("aria-invalid");
      input.removeAttribute("aria-describedby");
    }
  }

  function showFormError(box, message) {
    box.textContent = message;
    box.hidden = !message;
  }

  function retrySeconds(response, body) {
    var header = response.headers.get("x-retry-after") || response.headers.get("retry-after");
    var seconds = parseInt(header || (body && body.retryAfter) || "0", 10);
    return isNaN(seconds) ? 0 : seconds;
  }

  function bindSignIn() {
    var form = document.getElementById("sign-in");
    if (!form) return;
    var box = document.getElementById("sign-in-error");
    var button = form.querySelector("button[type=submit]");
    var label = button.textContent;

    function idle(afterSeconds) {
      if (!afterSeconds) {
        button.disabled = false;
        button.textContent = label;
        return;
      }
      button.textContent = "Try again in " + afterSeconds + " s";
      window.setTimeout(function () { idle(afterSeconds - 1); }, 1000);
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var email = form.elements.email.value.trim();
      var password = form.elements.password.value;
      showFormError(box, "");
      showFieldError(form, "email", email ? "" : "Enter your email address.");
      showFieldError(form, "password", password ? "" : "Enter your password.");
      if (!email || !password) {
        form.elements[email ? "password" : "email"].focus();
        return;
      }
      button.disabled = true;
      button.textContent = "Signing in…";
      fetch("/api/auth/sign-in/email", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify({ email: email, password: password })
      }).then(function (response) {
        if (response.ok) {
          window.location.replace(form.getAttribute("data-next") || "/admin/");
          return;
        }
        return response.json().catch(function () { return {}; }).then(function (body) {
          var message = body.message || body.error || "Sign-in failed (HTTP " + response.status + ").";
          if (response.status === 429) {
            var wait = retrySeconds(response, body);
            showFormError(box, message + (wait ? " You can try again in " + wait + " seconds." : ""));
            idle(wait);
            return;
          }
          if (body.code === "INVALID_EMAIL") {
            showFieldError(form, "email", "Enter a valid email address.");
            form.elements.email.focus();
          } else {
            showFormError(box, message);
            form.elements.password.select();
          }
          idle(0);
        });
      }).catch(function () {
        showFormError(box, "The server could not be reached. Check the connection and try again.");
        idle(0);
      });
    });
  }

  /* ---- memory forms: Ctrl+Enter (Cmd+Enter) in a text area submits its form --------------------------- */

  function bindSubmitShortcut() {
    document.querySelectorAll("form[data-submit-shortcut]").forEach(function (form) {
      form.addEventListener("keydown", function (event) {
        if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey) || event.target.tagName !== "TEXTAREA") return;
        event.preventDefault();
        if (form.requestSubmit) form.requestSubmit(); else form.submit();
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    bindThemeToggles();
    bindMenu();
    bindCopyButtons();
    bindSignIn();
    bindSubmitShortcut();
  });
})();
