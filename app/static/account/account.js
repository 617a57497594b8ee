/* Official-account pages: code button count-down and the liveness recorder.
   Every page works without this file: the recorder falls back to the file input with capture. */
(function () {
  "use strict";

  // texts in the customer's language, from account/base.html (Chinese when the block is missing)
  var M = {
    code_sent: "验证码已发送",
    camera_fallback: "无法打开摄像头,请点击下方按钮,用手机前置摄像头录制视频。",
    recording: "● 录制中 {s} 秒",
    aim: "请正脸对准屏幕框,点击开始录制后读出数字",
    upload_failed: "上传失败,请重新录制",
    network_failed: "网络异常,上传失败,请重试"
  };
  var block = document.getElementById("account-messages");
  if (block) {
    try {
      var given = JSON.parse(block.textContent);
      Object.keys(given).forEach(function (k) { M[k] = given[k]; });
    } catch (err) { /* keep the defaults */ }
  }
  var recording = function (s) { return M.recording.replace("{s}", s); };

  // 获取验证码: after a send, count down 60 s before the next (the server enforces it anyway).
  var sendBtn = document.getElementById("send-code");
  var sentNote = document.querySelector(".alert-ok");
  if (sendBtn && sentNote && sentNote.textContent.indexOf(M.code_sent) !== -1) {
    var left = 60, label = sendBtn.textContent;
    sendBtn.disabled = true;
    var tick = window.setInterval(function () {
      left -= 1;
      sendBtn.textContent = left + "s";
      if (left <= 0) { window.clearInterval(tick); sendBtn.disabled = false; sendBtn.textContent = label; }
    }, 1000);
  }

  var root = document.getElementById("recorder");
  if (!root) { return; }
  var form = document.getElementById("video-form");
  var fileInput = document.getElementById("video-file");
  var fallback = document.getElementById("fallback");
  var show = function (id, on) { document.getElementById(id).hidden = !on; };

  fileInput.addEventListener("change", function () {
    show("video-chosen", fileInput.files && fileInput.files.length > 0);
  });

  var canRecord = !!(window.MediaRecorder && navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
  var readyBtn = document.getElementById("ready-btn");
  readyBtn.hidden = false;
  if (canRecord) { fallback.hidden = true; }

  var stream = null, recorder = null, chunks = [], blob = null, timer = null;
  var maxSeconds = parseInt(root.getAttribute("data-max-seconds"), 10) || 10;

  var useFallback = function (why) {
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
    show("step-camera", false);
    show("step-digits", true);
    readyBtn.hidden = true;
    fallback.hidden = false;
    if (why) { document.getElementById("fallback-hint").textContent = why; }
  };

  readyBtn.addEventListener("click", function () {
    if (!canRecord) { useFallback(); fileInput.click(); return; }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "user", width: 640, height: 480 }, audio: true })
      .then(function (s) {
        stream = s;
        var preview = document.getElementById("preview");
        preview.srcObject = s;
        preview.play();
        show("step-digits", false);
        show("step-camera", true);
      })
      .catch(function () { useFallback(M.camera_fallback); });
  });

  var pickType = function () {
    var types = ["video/webm;codecs=vp8,opus", "video/webm", "video/mp4"];
    for (var i = 0; i < types.length; i++) {
      if (MediaRecorder.isTypeSupported && MediaRecorder.isTypeSupported(types[i])) { return types[i]; }
    }
    return "";
  };

  document.getElementById("rec-btn").addEventListener("click", function () {
    chunks = [];
    var type = pickType();
    recorder = type ? new MediaRecorder(stream, { mimeType: type }) : new MediaRecorder(stream);
    recorder.ondataavailable = function (e) { if (e.data && e.data.size) { chunks.push(e.data); } };
    recorder.onstop = function () {
      blob = new Blob(chunks, { type: recorder.mimeType || "video/webm" });
      var playback = document.getElementById("playback");
      playback.src = URL.createObjectURL(blob);
      show("step-camera", false);
      show("step-confirm", true);
    };
    recorder.start(250);
    show("rec-btn", false);
    show("stop-btn", true);
    var seconds = 0, status = document.getElementById("rec-status");
    status.className = "recording";
    status.textContent = recording(0);
    timer = window.setInterval(function () {
      seconds += 1;
      status.textContent = recording(seconds);
      if (seconds >= maxSeconds) { stop(); }
    }, 1000);
  });

  var stop = function () {
    window.clearInterval(timer);
    if (recorder && recorder.state !== "inactive") { recorder.stop(); }
    show("stop-btn", false);
    show("rec-btn", true);
  };
  document.getElementById("stop-btn").addEventListener("click", stop);

  document.getElementById("redo-btn").addEventListener("click", function () {
    blob = null;
    show("step-confirm", false);
    show("step-camera", true);
    var status = document.getElementById("rec-status");
    status.className = "muted";
    status.textContent = M.aim;
  });

  // ✓: upload the recording (multipart with the form's CSRF token), then follow the server.
  document.getElementById("confirm-btn").addEventListener("click", function () {
    if (!blob) { return; }
    var data = new FormData(form);
    var ext = /mp4/.test(blob.type) ? "mp4" : "webm";
    data.set("video", blob, "liveness." + ext);
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); }
    show("step-confirm", false);
    show("uploading", true);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-Requested-With", "fetch");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) {
        document.getElementById("upload-pct").textContent = Math.round(e.loaded * 100 / e.total) + "%";
      }
    };
    xhr.onload = function () {
      var body = {};
      try { body = JSON.parse(xhr.responseText); } catch (err) { body = {}; }
      if (body.redirect) { window.location.assign(body.redirect); return; }
      show("uploading", false);
      show("step-camera", true);
      var status = document.getElementById("rec-status");
      status.className = "field-error";
      status.textContent = body.error || M.upload_failed;
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "user" }, audio: true }).then(function (s) {
        stream = s;
        document.getElementById("preview").srcObject = s;
      });
    };
    xhr.onerror = function () {
      show("uploading", false);
      show("step-confirm", true);
      alert(M.network_failed);
    };
    xhr.send(data);
  });

  form.addEventListener("submit", function () {
    show("uploading", true);
  });
})();
