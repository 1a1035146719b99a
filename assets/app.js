// VoteStream, on every page: after htmx swaps a new page into <main>, move the keyboard
// focus to where a person reads next, as a full page load would start them at the top.
// First a field the page asks to focus (the option row just added), then a field the
// server marked invalid, else the page's notice ("You voted for …"), else its heading.
// A live swap elsewhere (the ballot giving way to the final results) that takes away the
// element with the focus moves it to the swapped region, not to the top of the page.
// Without JavaScript the browser loads whole pages and none of this runs.
(function () {
  "use strict";
  var focused = null;
  function remember() {
    focused = document.activeElement;
  }
  document.addEventListener("htmx:beforeSwap", remember);
  document.addEventListener("htmx:sseBeforeMessage", remember);

  function focusOn(element) {
    if (!element.matches("a[href], button, input, select, textarea, [tabindex]")) {
      element.setAttribute("tabindex", "-1");
    }
    element.focus();
  }

  document.addEventListener("htmx:afterSettle", function (event) {
    var main = document.getElementById("main");
    var target = event.detail && event.detail.target;
    if (main && target === main) {
      var next = main.querySelector("[autofocus]") ||
        main.querySelector("[aria-invalid='true']") ||
        main.querySelector(".notice[role='status'], [role='alert']") ||
        main.querySelector("h1");
      if (next) focusOn(next);
    } else if (focused && focused !== document.body && !focused.isConnected && event.target.isConnected) {
      focusOn(event.target);
    }
    focused = null;
  });
})();
