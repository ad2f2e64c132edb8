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
  // htmx leaves 4xx/5xx answers unswapped; ours carry a sentence for the flash area
  // (the server retargets them there), so show it rather than doing nothing.
  document.addEventListener("htmx:beforeSwap", function (event) {
    const xhr = event.detail.xhr;
    if (xhr && xhr.status >= 400 && xhr.getResponseHeader("HX-Retarget")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  // A sentence in the flash area from a script (a refused key, a hint).
  window.outreachFlash = function (message, kind) {
    const flash = document.getElementById("flash");
    if (!flash) return;
    const box = document.createElement("div");
    box.className = "flash flash-" + (kind || "warn");
    box.setAttribute("data-flash-script", "");
    box.textContent = message + " ";
    const close = document.createElement("button");
    close.type = "button";
    close.className = "link dismiss";
    close.setAttribute("data-dismiss", "");
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    box.appendChild(close);
    flash.replaceChildren(box);
  };
})();
