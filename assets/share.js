// VoteStream share box: "Copy" buttons copy the link or the embed code. Without
// JavaScript the buttons stay hidden and the fields can be selected and copied by hand.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-copy]");
    if (!button) return;
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) return;
    var label = button.textContent;
    function done(text) {
      button.textContent = text;
      setTimeout(function () { button.textContent = label; }, 1500);
    }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(field.value).then(function () { done("Copied"); }, function () {
        field.select();
        done("Press Ctrl+C");
      });
    } else {
      field.select();
      done("Press Ctrl+C");
    }
  });
})();
