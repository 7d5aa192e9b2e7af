// Starts Swagger UI on the API docs page (http/docs.py). A file of its own, not an inline script, so the
// page keeps the strict Content-Security-Policy (script-src 'self').
(function () {
  "use strict";
  function csrfToken() {
    var m = document.cookie.match(/(?:^|;\s*)runyard_csrf=([^;]*)/);
    return m ? decodeURIComponent(m[1]) : null;
  }
  window.addEventListener("load", function () {
    var el = document.getElementById("swagger-ui");
    window.ui = SwaggerUIBundle({
      url: el.getAttribute("data-openapi-url"),
      dom_id: "#swagger-ui",
      layout: "BaseLayout",
      deepLinking: true,
      showExtensions: true,
      showCommonExtensions: true,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
      // "Try it out" with the browser session: state-changing calls carry the CSRF token (docs/auth.md)
      requestInterceptor: function (req) {
        var token = csrfToken();
        if (token && req.method && ["GET", "HEAD", "OPTIONS"].indexOf(req.method.toUpperCase()) < 0) {
          req.headers["X-CSRF-Token"] = token;
        }
        return req;
      },
    });
  });
})();
