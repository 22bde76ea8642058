// Starts Swagger UI from the vendored bundle; kept in a file so the CSP needs no inline script.
(function () {
  var target = document.getElementById("swagger-ui");
  if (!target || typeof window.SwaggerUIBundle !== "function") { return; }
  window.SwaggerUIBundle({ url: target.getAttribute("data-spec-url"), dom_id: "#swagger-ui", deepLinking: false });
})();
