// outreach: small behaviour shared by every page (no framework; htmx does the requests).
(function () {
  "use strict";
  // A message in the flash area can be dismissed; a new successful action clears old errors.
  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-dismiss]");
    if (button) button.closest(".flash").remove();
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    const xhr = event.detail.xhr;
    const flash = document.getElementById("flash");
    if (flash && xhr && xhr.status < 400 && event.detail.requestConfig.verb !== "get") flash.replaceChildren();
  });
})();
