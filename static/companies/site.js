// Progressive enhancements: every page works without this file.
// - A logo shows once it has loaded; until then, or if it is missing or broken, the initial.
// - Choosing a search mode re-runs the search.
// - The search box suggests company names (ARIA 1.2 combobox with a listbox popup).
"use strict";

(function () {
  document.documentElement.classList.add("js");

  function logoState(img, loaded) {
    var logo = img.closest(".logo");
    if (logo) logo.classList.add(loaded ? "loaded" : "broken");
  }
  // Load and error events do not bubble, but they can be caught on the way down.
  ["load", "error"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      if (event.target instanceof HTMLImageElement) logoState(event.target, type === "load");
    }, true);
  });
  document.querySelectorAll(".logo img").forEach(function (img) {
    if (img.complete) logoState(img, img.naturalWidth > 0);
  });

  document.querySelectorAll(".search-form .modes").forEach(function (modes) {
    modes.addEventListener("change", function () {
      var form = modes.closest("form");
      if (form.elements.q.value.trim()) form.requestSubmit();
    });
  });

  document.querySelectorAll("input[data-suggest-url]").forEach(setUpAutocomplete);

  function setUpAutocomplete(input) {
    var MIN_CHARS = 2;
    var DELAY_MS = 150;
    var listId = input.id + "-suggestions";
    var list = document.createElement("ul");
    var status = document.createElement("div");
    var options = [];
    var active = -1;
    var timer = null;
    var pending = null;

    list.id = listId;
    list.className = "suggestions";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "Companies");
    list.hidden = true;
    status.className = "visually-hidden";
    status.setAttribute("role", "status");
    input.after(list, status);

    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", listId);

    function companyUrl(slug) {
      return input.dataset.companyUrl.replace("__slug__", encodeURIComponent(slug));
    }

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function open() {
      if (!options.length) return;
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }

    function setActive(index) {
      options.forEach(function (option, i) {
        option.setAttribute("aria-selected", i === index ? "true" : "false");
      });
      active = index;
      if (index < 0) {
        input.removeAttribute("aria-activedescendant");
      } else {
        input.setAttribute("aria-activedescendant", options[index].id);
        options[index].scrollIntoView({ block: "nearest" });
      }
    }

    function choose(option) {
      close();
      window.location.assign(companyUrl(option.dataset.slug));
    }

    // The company name, with the typed text in bold where the name (or a word of it) starts so.
    function optionLabel(name, typed) {
      var fragment = document.createDocumentFragment();
      var lower = name.toLowerCase();
      var start = lower.startsWith(typed) ? 0 : lower.indexOf(" " + typed) + 1;
      if (start === 0 && !lower.startsWith(typed)) {
        fragment.append(name);
        return fragment;
      }
      var strong = document.createElement("strong");
      strong.textContent = name.slice(start, start + typed.length);
      fragment.append(name.slice(0, start), strong, name.slice(start + typed.length));
      return fragment;
    }

    function render(results, typed) {
      list.replaceChildren();
      options = results.map(function (company, i) {
        var option = document.createElement("li");
        option.id = listId + "-" + i;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        option.dataset.slug = company.slug;
        option.append(optionLabel(company.name, typed.toLowerCase()));
        list.append(option);
        return option;
      });
      active = -1;
      if (options.length) {
        open();
        status.textContent = options.length + (options.length === 1 ? " company" : " companies") +
          " found. Use the up and down arrows to choose, Enter to open.";
      } else {
        close();
        status.textContent = "";
      }
    }

    function fetchSuggestions() {
      var typed = input.value.trim();
      if (pending) pending.abort();
      if (typed.length < MIN_CHARS) {
        options = [];
        close();
        return;
      }
      pending = new AbortController();
      var url = input.dataset.suggestUrl + "?q=" + encodeURIComponent(typed);
      fetch(url, { headers: { Accept: "application/json" }, signal: pending.signal })
        .then(function (response) { return response.ok ? response.json() : { results: [] }; })
        .then(function (data) {
          if (input.value.trim() === typed && document.activeElement === input) {
            render(data.results || [], typed);
          }
        })
        .catch(function (error) {
          if (error.name !== "AbortError") close();  // suggestions are a nicety: fail quietly
        });
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(fetchSuggestions, DELAY_MS);
    });

    input.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        if (!options.length) return;
        event.preventDefault();
        if (list.hidden) open();
        var step = event.key === "ArrowDown" ? 1 : -1;
        var next = active + step;
        if (next >= options.length) next = 0;
        if (next < -1) next = options.length - 1;
        setActive(next);
      } else if (event.key === "Enter") {
        if (!list.hidden && active >= 0) {
          event.preventDefault();
          choose(options[active]);
        }
      } else if (event.key === "Escape") {
        if (!list.hidden) {
          event.preventDefault();
          close();
        }
      }
    });

    input.addEventListener("blur", close);
    input.addEventListener("focus", function () {
      if (options.length && input.value.trim().length >= MIN_CHARS) open();
    });
    // Keep the focus in the box while a suggestion is clicked.
    list.addEventListener("mousedown", function (event) { event.preventDefault(); });
    list.addEventListener("click", function (event) {
      var option = event.target.closest("[role=option]");
      if (option) choose(option);
    });
  }
})();

// Which result was opened, and at which position, for the site's search insights: a beacon that
// never delays or changes the link (it stays a plain link; without this file nothing is sent).
(function () {
  if (!navigator.sendBeacon) return;
  document.querySelectorAll("ol.results[data-click-url]").forEach(function (list) {
    function opened(event) {
      if (event.type === "auxclick" && event.button !== 1) return;
      var link = event.target.closest("a[href]");
      var card = link && link.closest("[data-position]");
      if (!card || !list.contains(card)) return;
      navigator.sendBeacon(list.dataset.clickUrl, new URLSearchParams({
        search: list.dataset.searchId,
        q: list.dataset.query,
        company: card.dataset.company,
        position: card.dataset.position,
        target: link.classList.contains("website") ? "website" : "page"
      }));
    }
    list.addEventListener("click", opened);
    list.addEventListener("auxclick", opened);
  });
})();
