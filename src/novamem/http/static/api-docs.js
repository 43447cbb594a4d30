// Starts the vendored Swagger UI (./swagger-ui/) on this server's /openapi.json. Loaded as a file, never
// inline, so the strict Content-Security-Policy (script-src 'self') lets it run.
(function () {
  "use strict";

  var root = document.documentElement;
  var dark = window.matchMedia("(prefers-color-scheme: dark)");

  // Swagger UI styles its dark theme under html.dark-mode; follow the system setting, live.
  function followColorScheme() {
    root.classList.toggle("dark-mode", dark.matches);
  }
  followColorScheme();
  dark.addEventListener("change", followColorScheme);

  var mount = document.getElementById("swagger-ui");
  window.ui = window.SwaggerUIBundle({
    url: mount.getAttribute("data-spec-url"),
    domNode: mount,
    deepLinking: true,
    filter: true,
    displayRequestDuration: true,
    tryItOutEnabled: false,
    // no call to the public validator at swagger.io: nothing leaves this server
    validatorUrl: null,
    // the spec comes from this server only, never from ?url= or ?configUrl= in the address bar
    queryConfigEnabled: false,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
})();
