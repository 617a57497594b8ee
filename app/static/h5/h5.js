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

  // Top bar "‹ 返回": back in history when this tab came from one of our pages, else its href.
  var SEEN = "h5-seen";
  var cameFromUs = false;
  try { cameFromUs = window.sessionStorage.getItem(SEEN) === "1"; window.sessionStorage.setItem(SEEN, "1"); }
  catch (e) { cameFromUs = false; }
  var back = document.querySelector("a[data-history-back]");
  if (back) {
    back.addEventListener("click", function (event) {
      if (cameFromUs && window.history.length > 1) {
        event.preventDefault();
        window.history.back();
      }
    });
  }

  // Face intro's "不再提示": remembered in a cookie the page reads (a year), cleared when unticked.
  document.querySelectorAll("input[data-remember-cookie]").forEach(function (box) {
    var name = box.getAttribute("data-remember-cookie");
    var remember = function () {
      document.cookie = name + "=" + (box.checked ? "1; max-age=31536000" : "; max-age=0") +
        "; path=/; SameSite=Lax";
    };
    box.addEventListener("change", remember);
    if (box.form) { box.form.addEventListener("submit", remember); }
  });

  // Questionnaire: 已回答 x / n 题, and each choice kept on the server so that a reload keeps it.
  var questionnaire = document.getElementById("questionnaire-form");
  if (questionnaire) {
    var box = document.getElementById("q-progress");
    var bar = document.getElementById("q-progress-bar");
    var text = document.getElementById("q-progress-text");
    var count = function () {
      var names = {};
      questionnaire.querySelectorAll('input[type="radio"]').forEach(function (radio) {
        if (radio.checked) { names[radio.name] = true; }
      });
      return Object.keys(names).length;
    };
    var show = function () {
      var done = count();
      var total = box ? box.getAttribute("data-total") : "";
      if (bar) { bar.value = done; }
      if (text && box) {
        text.textContent = box.getAttribute("data-template").replace("{x}", done).replace("{n}", total);
      }
    };
    var draftUrl = questionnaire.getAttribute("data-draft-url");
    var save = function () {
      if (!draftUrl || !window.fetch) { return; }
      var body = new FormData();
      var token = questionnaire.querySelector('input[name="csrf_token"]');
      if (token) { body.append("csrf_token", token.value); }
      questionnaire.querySelectorAll('input[type="radio"]').forEach(function (radio) {
        if (radio.checked) { body.append(radio.name, radio.value); }
      });
      fetch(draftUrl, { method: "POST", body: body, credentials: "same-origin",
                        headers: { "Accept": "application/json" } }).catch(function () {});
    };
    questionnaire.addEventListener("change", function (event) {
      if (event.target && event.target.type === "radio") { show(); save(); }
    });
    show();
  }

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
          var place = document.getElementById("progress-queue");
          if (place && body.queue) {  // 前面还有 N 位,预计约 M 秒
            place.textContent = body.queue.text;
            place.hidden = false;
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
