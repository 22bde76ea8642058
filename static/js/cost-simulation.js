/* What-if simulator of a listing's costs: recompute on every change, without a reload.
 *
 * Progressive enhancement: the form is a plain GET form whose submit button renders the
 * whole page. With this script, every `change` in the form fetches only the result
 * fragment (data-result-url, same query as the form) and puts it into the result region
 * (aria-live="polite"), so screen readers hear the new result and focus stays where it
 * is. Nothing is ever saved. When no fragment comes back (network error, a redirect
 * to the login after the session ended), the old result stays with a message that
 * points to the submit button.
 */
(function () {
  "use strict";

  var form = document.querySelector("form[data-result-url]");
  if (!form || !window.fetch || !window.URLSearchParams || !window.FormData) {
    return;
  }
  var region = document.getElementById(form.getAttribute("data-result-region"));
  if (!region) {
    return;
  }
  var latest = 0;
  var controller = null;

  function query() {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, name) {
      params.append(name, value);
    });
    return params.toString();
  }

  function showError() {
    var message = document.createElement("p");
    message.className = "kern-body field-error";
    message.textContent = form.getAttribute("data-error-text");
    region.appendChild(message);
  }

  function update() {
    var search = query();
    var request = ++latest;
    if (controller) {
      controller.abort();
    }
    controller = window.AbortController ? new AbortController() : null;
    region.setAttribute("aria-busy", "true");
    fetch(form.getAttribute("data-result-url") + "?" + search, {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
      signal: controller ? controller.signal : undefined
    })
      .then(function (response) {
        // 200: a result; 422: the messages about the input. Anything else is no fragment.
        if (response.redirected || (response.status !== 200 && response.status !== 422)) {
          throw new Error("no fragment: " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        if (request !== latest) {
          return; // an answer to an older change; a newer one is on its way
        }
        region.innerHTML = html;
        region.removeAttribute("aria-busy");
        if (window.history && window.history.replaceState) {
          // The address shows the simulated situation: reload and bookmarks keep it.
          window.history.replaceState(null, "", form.getAttribute("action") + "?" + search);
        }
      })
      .catch(function (error) {
        if (error && error.name === "AbortError") {
          return;
        }
        if (request === latest) {
          region.removeAttribute("aria-busy");
          showError();
        }
      });
  }

  form.addEventListener("change", update);
})();
