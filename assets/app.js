// VoteStream, on every page: after htmx swaps a new page into <main>, move the keyboard
// focus to where a person reads next, as a full page load would start them at the top.
// First a field the page asks to focus (the option row just added), then a field the
// server marked invalid, else the page's notice ("You voted for …"), else its heading.
// Without JavaScript the browser loads whole pages and none of this runs.
(function () {
  "use strict";
  document.addEventListener("htmx:afterSettle", function (event) {
    var main = document.getElementById("main");
    if (!main || event.detail.target !== main) return;
    var next = main.querySelector("[autofocus]") ||
      main.querySelector("[aria-invalid='true']") ||
      main.querySelector(".notice[role='status'], [role='alert']") ||
      main.querySelector("h1");
    if (!next) return;
    if (!next.matches("a[href], button, input, select, textarea, [tabindex]")) {
      next.setAttribute("tabindex", "-1");
    }
    next.focus();
  });
})();
