/* 受益人变更 (views/account/beneficiary.py): the page works without this file (the server renders the rows,
   "+", 删除 and 平均分配 post the form back); here the same is done in the page. The server checks
   everything again: a resident ID's birth date and gender, the shares of each order. */
(function () {
  "use strict";

  // --- 请选择同时变更的保单: 全选 ---
  var all = document.querySelector("[data-select-all]");
  if (all) {
    var choices = document.querySelectorAll("[data-policy-choice]");
    var allBtn = document.getElementById("choose-all");
    if (allBtn) { allBtn.hidden = true; }
    all.addEventListener("change", function () {
      choices.forEach(function (box) { box.checked = all.checked; });
    });
    choices.forEach(function (box) {
      box.addEventListener("change", function () {
        all.checked = Array.prototype.every.call(choices, function (b) { return b.checked; });
      });
    });
  }

  var form = document.getElementById("beneficiary-form");
  if (!form) { return; }
  var maxRows = parseInt(form.getAttribute("data-max-rows"), 10) || 10;

  // --- the tabs 身故受益人 / 生存受益人 ---
  var tabs = form.querySelectorAll("[data-tab]");
  function show(kind) {
    tabs.forEach(function (tab) { tab.setAttribute("aria-selected", String(tab.getAttribute("data-tab") === kind)); });
    form.querySelectorAll("[data-panel]").forEach(function (panel) {
      panel.hidden = panel.getAttribute("data-panel") !== kind;
    });
  }
  tabs.forEach(function (tab) {
    tab.addEventListener("click", function (event) { event.preventDefault(); show(tab.getAttribute("data-tab")); });
  });
  if (tabs.length) { show("DEATH"); }

  // --- a resident ID fixes the birth date and the gender (GB 11643-1999) ---
  var WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], CHECK = "10X98765432";
  function residentId(number) {
    number = (number || "").trim().toUpperCase();
    if (!/^[0-9]{17}[0-9X]$/.test(number)) { return null; }
    var sum = 0;
    for (var i = 0; i < 17; i++) { sum += parseInt(number.charAt(i), 10) * WEIGHTS[i]; }
    if (CHECK.charAt(sum % 11) !== number.charAt(17)) { return null; }
    var birth = number.substr(6, 4) + "-" + number.substr(10, 2) + "-" + number.substr(12, 2);
    if (isNaN(Date.parse(birth))) { return null; }
    return { birth: birth, gender: parseInt(number.charAt(16), 10) % 2 ? "M" : "F" };
  }
  var RESIDENT_TYPES = ["RESIDENT_ID", "HOUSEHOLD", "HMT_PERMIT"];
  function fillFromId(row) {
    var type = row.querySelector("[data-id-type]"), number = row.querySelector("[data-id-number]");
    if (!type || !number || RESIDENT_TYPES.indexOf(type.value) === -1) { return; }
    var found = residentId(number.value);
    if (found) {
      row.querySelector("[data-birth]").value = found.birth;
      row.querySelector("[data-gender]").value = found.gender;
    }
  }
  function syncValidity(row) {
    var long = row.querySelector("[data-long-term]"), until = row.querySelector("[data-valid-until]");
    if (long && until) { until.disabled = long.checked; if (long.checked) { until.value = ""; } }
  }
  function bind(row) {
    ["input", "change"].forEach(function (name) {
      row.querySelector("[data-id-number]").addEventListener(name, function () { fillFromId(row); });
    });
    row.querySelector("[data-id-type]").addEventListener("change", function () { fillFromId(row); });
    var long = row.querySelector("[data-long-term]");
    if (long) { long.addEventListener("change", function () { syncValidity(row); }); syncValidity(row); }
    var remove = row.querySelector("[data-remove]");
    if (remove) {
      remove.addEventListener("click", function (event) {
        event.preventDefault();
        var list = row.parentNode;
        if (list.querySelectorAll("[data-row]").length > 1) { list.removeChild(row); } else { clear(row); }
        renumber(list);
      });
    }
  }
  function clear(row) {
    row.querySelectorAll("input, select").forEach(function (field) {
      if (field.type === "checkbox") { field.checked = false; }
      else if (field.tagName === "SELECT") { field.selectedIndex = 0; }  // 居民身份证, 请选择, 第一顺序
      else { field.value = ""; }
      field.disabled = false;
    });
  }
  function renumber(list) {
    list.querySelectorAll("[data-row]").forEach(function (row, index) {
      row.querySelector("[data-row-number]").textContent = String(index + 1);
      row.querySelectorAll("[name]").forEach(function (field) {
        var renamed = field.name.replace(/^(death|survival)-[0-9]+-/, "$1-" + index + "-");
        if (field.id === field.name) { field.id = renamed; }
        field.name = renamed;
      });
      var remove = row.querySelector("[data-remove]");
      if (remove) { remove.value = remove.value.replace(/-[0-9]+$/, "-" + index); }
    });
  }
  form.querySelectorAll("[data-row]").forEach(bind);

  // --- "+": a new empty row, in the page ---
  form.querySelectorAll("[data-add]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      var list = form.querySelector('[data-rows="' + button.getAttribute("data-add") + '"]');
      var rows = list.querySelectorAll("[data-row]");
      if (!rows.length || rows.length >= maxRows) { return; }  // the server answers (its own message)
      event.preventDefault();
      var row = rows[rows.length - 1].cloneNode(true);
      clear(row);
      list.appendChild(row);
      renumber(list);
      bind(row);
      row.querySelector("input").focus();
    });
  });

  // --- 平均分配: equal shares per order, the remainder to the first by the largest-remainder rule ---
  function split(count) {
    var cents = 10000, base = Math.floor(cents / count), extra = cents - base * count, out = [];
    for (var i = 0; i < count; i++) { out.push(((base + (i < extra ? 1 : 0)) / 100).toFixed(2)); }
    return out;
  }
  form.querySelectorAll("[data-split]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      event.preventDefault();
      var list = form.querySelector('[data-rows="' + button.getAttribute("data-split") + '"]');
      var groups = {};
      list.querySelectorAll("[data-row]").forEach(function (row) {
        var order = row.querySelector("[data-order]").value || "1";
        (groups[order] = groups[order] || []).push(row);
      });
      Object.keys(groups).forEach(function (order) {
        var shares = split(groups[order].length);
        groups[order].forEach(function (row, i) { row.querySelector("[data-share]").value = shares[i]; });
      });
    });
  });
}());
