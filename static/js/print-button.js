// The statement's print button: shown only when this script runs (without JavaScript the
// page says to use the browser's print function); kept in a file for the strict CSP.
(function () {
  var buttons = document.querySelectorAll("button[data-print]");
  for (var i = 0; i < buttons.length; i++) {
    buttons[i].hidden = false;
    buttons[i].addEventListener("click", function () { window.print(); });
  }
})();
