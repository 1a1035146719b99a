// VoteStream, inside an embedded poll: tells the page that embeds it how tall the poll is,
// whenever that changes (results appearing, bars moving), so its iframe fits. The host
// page's side is embed-host.js.
(function () {
  "use strict";
  if (window.parent === window) return;
  var last = 0;
  function report() {
    var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height === last) return;
    last = height;
    window.parent.postMessage({ votestream: "height", height: height }, "*");
  }
  if (typeof ResizeObserver === "function") new ResizeObserver(report).observe(document.documentElement);
  document.addEventListener("htmx:afterSettle", report);
  window.addEventListener("load", report);
  report();
})();
