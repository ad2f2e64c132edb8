// outreach: the leads review page's keyboard and selection.
// j/k move, a/r approve/reject (and move on), u undo, m make ready, n analyze, x select,
// o/Enter details, ? help, Esc close. A key that does not apply to the current lead says why.
(function () {
  "use strict";
  let currentId = null;

  const rows = () => Array.from(document.querySelectorAll("#results tr.lead-row"));
  const current = () => (currentId && document.getElementById(currentId)) || null;
  const help = () => document.getElementById("kbd-help");

  function select(row) {
    rows().forEach((r) => r.classList.remove("current"));
    if (!row) return;
    row.classList.add("current");
    currentId = row.id;
    row.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    const all = rows();
    if (!all.length) return;
    const index = all.indexOf(current());
    const next = index < 0 ? 0 : Math.min(all.length - 1, Math.max(0, index + step));
    select(all[next]);
  }

  const VERBS = { approve: "approve", reject: "reject", undo: "undo the review of", ready: "make ready", analyze: "analyze" };

  function refuse(message) {
    if (window.outreachFlash) window.outreachFlash(message, "warn");
  }

  function press(kind, advance) {
    const row = current();
    if (!row) {
      refuse(rows().length ? "Choose a lead first: j and k move between leads." : "There is no lead on this page.");
      return;
    }
    const button = row.querySelector("button." + kind);
    if (!button) {
      refuse("Cannot " + VERBS[kind] + " " + (row.dataset.name || "this lead") + ": " + (row.dataset.hint || "it is not possible now."));
      return;
    }
    button.click();
    if (advance) move(1);
  }

  function toggleHelp(show) {
    const box = help();
    if (box) box.hidden = show === undefined ? !box.hidden : !show;
  }

  function updateSelection() {
    const boxes = Array.from(document.querySelectorAll('input[name="ids"][form="bulk-form"]'));
    const all = document.getElementById("all-matching");
    const matching = document.getElementById("select-matching");
    const everything = all && all.value === "1";
    const count = boxes.filter((b) => b.checked).length;
    const label = document.getElementById("selection-count");
    if (label) label.textContent = everything ? "all " + matching.dataset.total + " matching selected" : count + " selected";
    document.querySelectorAll("#bulk-form button[name=action]").forEach((b) => (b.disabled = !everything && count === 0));
    const page = document.getElementById("select-page");
    if (page) page.checked = boxes.length > 0 && count === boxes.length;
  }

  document.addEventListener("change", function (event) {
    const target = event.target;
    if (target.id === "select-page") {
      document.querySelectorAll('input[name="ids"][form="bulk-form"]').forEach((b) => (b.checked = target.checked));
      if (!target.checked) setAllMatching(false);
    }
    if (target.matches('input[name="ids"], #select-page')) updateSelection();
  });

  function setAllMatching(on) {
    const all = document.getElementById("all-matching");
    const matching = document.getElementById("select-matching");
    if (!all || !matching) return;
    all.value = on ? "1" : "0";
    matching.textContent = on ? "Clear selection" : "Select all " + Number(matching.dataset.total).toLocaleString("en") + " matching";
    if (on) document.querySelectorAll('input[name="ids"][form="bulk-form"], #select-page').forEach((b) => (b.checked = true));
    updateSelection();
  }

  document.addEventListener("click", function (event) {
    const target = event.target;
    if (target.closest("[data-open-import]")) {
      const details = document.getElementById("import");
      if (details) details.open = true;
    } else if (target.closest("#select-matching")) {
      setAllMatching(document.getElementById("all-matching").value !== "1");
    } else if (target.closest("#help-button")) {
      toggleHelp();
    } else if (target.closest("[data-close-help]")) {
      toggleHelp(false);
    } else if (target.closest("[data-close-detail]")) {
      document.getElementById("detail").replaceChildren();
    } else {
      const row = target.closest("#results tr.lead-row");
      if (row && !target.closest("button, a, input")) select(row);
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest && event.target.closest("input, select, textarea, [contenteditable]")) return;
    // Enter on a focused link or button keeps its usual meaning.
    if (event.key === "Enter" && event.target.closest && event.target.closest("a, button, summary")) return;
    switch (event.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "a": press("approve", true); break;
      case "r": press("reject", true); break;
      case "u": press("undo", false); break;
      case "m": press("ready", true); break;
      case "n": press("analyze", true); break;
      case "x": {
        const box = current() && current().querySelector('input[name="ids"]');
        if (!box) return;
        box.checked = !box.checked;
        updateSelection();
        break;
      }
      case "o":
      case "Enter": {
        const link = current() && current().querySelector("a.open-detail");
        if (!link) return;
        link.click();
        break;
      }
      case "?": toggleHelp(); break;
      case "Escape":
        if (help() && !help().hidden) toggleHelp(false);
        else document.getElementById("detail").replaceChildren();
        break;
      default:
        return;
    }
    event.preventDefault();
  });

  // A swapped row or a new page of results: keep the cursor where it was, recount the selection.
  document.addEventListener("htmx:load", function () {
    const row = current();
    if (row) row.classList.add("current");
    updateSelection();
  });
})();
