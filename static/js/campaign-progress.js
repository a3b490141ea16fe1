// Keeps a sending campaign's figures current without reloading the page
// (a timed reload would take the page away from screen-reader and keyboard users).
(function () {
  "use strict";
  var box = document.querySelector("[data-progress-url]");
  if (!box) {
    return;
  }
  var url = box.getAttribute("data-progress-url");
  var bar = document.getElementById("send-progress");
  var label = document.getElementById("send-progress-label");
  function update() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (!data) {
          return;
        }
        bar.max = data.recipients;
        bar.value = data.done;
        bar.textContent = data.percent + " %";
        label.textContent = data.progress_label;
        Object.keys(data).forEach(function (key) {
          var cell = document.querySelector('[data-figure="' + key + '"]');
          if (cell) {
            cell.textContent = data[key].toLocaleString(document.documentElement.lang || "en");
          }
        });
        var status = document.querySelector("[data-status]");
        if (status && status.className !== "status status-" + data.status) {
          status.textContent = data.status_label;
          status.className = "status status-" + data.status;
        }
        if (data.status === "sending") {
          window.setTimeout(update, 2000);
        }
      })
      .catch(function () {
        window.setTimeout(update, 5000);
      });
  }
  window.setTimeout(update, 2000);
})();
