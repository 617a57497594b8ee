/* Small helpers of the e-revisit pages; every page also works without them. */
(function () {
  "use strict";

  // Face page: a photo taken with the camera is sent at once.
  document.querySelectorAll("input[data-autosubmit]").forEach(function (input) {
    input.addEventListener("change", function () {
      if (!input.files || !input.files.length) { return; }
      var note = document.getElementById("photo-chosen");
      if (note) { note.hidden = false; }
      document.getElementById(input.getAttribute("data-autosubmit")).submit();
    });
  });

  // Progress page: poll the status of the face check, then go on.
  var progress = document.getElementById("face-progress");
  if (progress) {
    var url = progress.getAttribute("data-status-url");
    var delay = 1000;
    var waited = 0;
    var poll = function () {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) { return response.json(); })
        .then(function (body) {
          if (body.done && body.redirect) {
            if (body.message) {
              var box = document.getElementById("progress-error");
              box.textContent = body.message;
              box.hidden = false;
            }
            window.location.replace(body.redirect);
            return;
          }
          waited += delay;
          if (waited > 90000) {
            var text = document.getElementById("progress-text");
            if (text) { text.textContent = progress.getAttribute("data-slow-text"); }
          }
          delay = Math.min(delay + 500, 4000);
          window.setTimeout(poll, delay);
        })
        .catch(function () { window.setTimeout(poll, 4000); });
    };
    window.setTimeout(poll, delay);
  }
})();
