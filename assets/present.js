// VoteStream's presenter view: each key presses the visible control that carries it
// (data-key), so the keys do exactly what the buttons and links do; F asks the browser
// for full screen. Without JavaScript the controls are plain buttons and links, and the
// full-screen button (which needs a script) stays hidden.
(function () {
  "use strict";
  var KEYS = { ArrowLeft: "ArrowLeft", ArrowRight: "ArrowRight", c: "C", C: "C", r: "R", R: "R", f: "F", F: "F" };
  function toggleFullScreen() {
    if (document.fullscreenElement) {
      document.exitFullscreen();
    } else if (document.documentElement.requestFullscreen) {
      document.documentElement.requestFullscreen().catch(function () {});
    }
  }
  function wire() {
    var button = document.querySelector("[data-fullscreen]");
    if (button && document.fullscreenEnabled !== false) {
      button.hidden = false;
      button.onclick = toggleFullScreen;
    }
  }
  document.addEventListener("DOMContentLoaded", wire);
  document.addEventListener("htmx:afterSettle", wire);
  document.addEventListener("keydown", function (event) {
    // A held key presses once; a key with a modifier is the browser's.
    if (event.repeat || event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    var target = event.target;
    if (target && target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
    var key = KEYS[event.key];
    if (!key) return;
    var control = document.querySelector("[data-key='" + key + "']");
    if (!control || control.disabled || control.hidden) return;
    event.preventDefault();
    control.click();
  });
})();
