// VoteStream, on a page that embeds polls: fits each VoteStream iframe to the height its
// poll reports (see embed.js). Include once per page:
//   <script src="https://YOUR-VOTESTREAM/assets/embed-host.js" async></script>
(function () {
  "use strict";
  window.addEventListener("message", function (event) {
    var data = event.data;
    if (!data || data.votestream !== "height" || typeof data.height !== "number") return;
    var frames = document.getElementsByTagName("iframe");
    for (var i = 0; i < frames.length; i++) {
      // Only the frame the message came from, and only if it shows that origin's poll.
      if (frames[i].contentWindow === event.source && frames[i].src.indexOf(event.origin + "/embed/") === 0) {
        frames[i].style.height = Math.max(0, Math.min(data.height, 5000)) + "px";
      }
    }
  });
})();
