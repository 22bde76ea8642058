// Starts Swagger UI from the vendored bundle; kept in a file so the CSP needs no inline script.
(function () {
  var target = document.getElementById("swagger-ui");
  if (!target || typeof window.SwaggerUIBundle !== "function") { return; }

  // Swagger UI renders the close button of its dialogs as a bare icon; give it
  // an accessible name (WCAG 4.1.2). Its interface text is English, as is this.
  function nameIconButtons(root) {
    var buttons = root.querySelectorAll("button.close-modal:not([aria-label])");
    for (var i = 0; i < buttons.length; i++) { buttons[i].setAttribute("aria-label", "Close"); }
  }
  new MutationObserver(function () { nameIconButtons(target); })
    .observe(target, { childList: true, subtree: true });

  window.SwaggerUIBundle({ url: target.getAttribute("data-spec-url"), dom_id: "#swagger-ui", deepLinking: false,
    // No call-out to the public validator service: users run this on closed networks.
    validatorUrl: null });
})();
