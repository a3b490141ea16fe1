// Recounts the composer's readers when staff change the topic, audience or segment.
// The page already shows the count made by the server, so without this script (or
// when a request fails) the figure is the one of the page as loaded.
(function () {
  "use strict";
  var box = document.querySelector("[data-count-url]");
  if (!box || !box.closest("form")) {
    return;
  }
  var form = box.closest("form");
  var url = box.getAttribute("data-count-url");
  function chosen(name) {
    var field = form.querySelector('[name="' + name + '"]:checked') ||
      form.querySelector('select[name="' + name + '"]');
    return field ? field.value : "";
  }
  function recount() {
    var query = new URLSearchParams({
      topic: chosen("topic"),
      audience: chosen("audience"),
      segment: chosen("segment")
    });
    fetch(url + "?" + query.toString(), {
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    })
      .then(function (response) {
        return response.json();
      })
      .then(function (data) {
        box.textContent = data.text || data.error;
      })
      .catch(function () {});
  }
  form.addEventListener("change", function (event) {
    var name = event.target.name;
    if (name === "topic" || name === "audience" || name === "segment") {
      recount();
    }
  });
})();
