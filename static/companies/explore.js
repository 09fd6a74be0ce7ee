/* The map of /explore/: the server's picture replaced by a canvas fed by /api/map/.
 *
 * Plain JavaScript, no library. Points are drawn in one pass per colour (fillRect), so a frame
 * of 50,000 points takes a few milliseconds; a grid index finds the point under the pointer.
 * window.exploreMap exposes the state and a frame-time measurement for the browser tests.
 */
(function () {
  "use strict";

  var stage = document.getElementById("map-stage");
  if (!stage || !window.fetch || !document.createElement("canvas").getContext) return;

  var GRID = 10; // map units per cell of the hover index (the map is 1000 wide)
  var HIT_PX = 9; // how close (screen pixels) the pointer must be to a point
  var colours = stage.dataset.colours.split(",");
  var card = document.getElementById("map-card");
  var status = document.getElementById("map-status");
  var picture = stage.querySelector(".map-picture");
  var form = document.querySelector(".map-controls");
  var queryInput = document.getElementById("map-q");
  var citySelect = document.getElementById("map-city");
  var resultsBox = document.getElementById("map-results");
  var hitsList = document.getElementById("map-hits");
  var links = document.getElementById("map-links");
  var resultsTitle = document.getElementById("map-results-title");

  var canvas = document.createElement("canvas");
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", picture.alt);
  canvas.tabIndex = 0;
  var ctx = canvas.getContext("2d", { alpha: false });

  var state = {
    ids: null, xs: null, ys: null, clusters: null, clusterList: [], index: new Map(),
    grid: new Map(), byColour: [],
    scale: 1, tx: 0, ty: 0, width: 0, height: 0, ratio: 1,
    dimmed: null, highlighted: [], queryPoint: null, hover: -1, frames: [],
  };
  var companyCache = new Map();
  var drawPending = false;

  function setStatus(text) {
    status.textContent = text;
    status.hidden = !text;
  }

  function load() {
    setStatus("Loading the map…");
    return fetch(stage.dataset.mapUrl, { headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        ingest(data);
        picture.replaceWith(canvas);
        stage.querySelector(".map-zoom").hidden = false;
        resize();
        fit();
        setStatus("");
        var query = stage.dataset.query;
        var city = stage.dataset.city;
        return Promise.all([query ? search(query, city) : null, city ? filterCity(city) : null]);
      })
      .catch(function () {
        setStatus(""); // the server's picture stays
      });
  }

  function ingest(data) {
    var n = data.points.length;
    state.ids = new Int32Array(n);
    state.xs = new Float32Array(n);
    state.ys = new Float32Array(n);
    state.clusters = new Int32Array(n);
    state.byColour = colours.map(function () { return []; });
    state.grid = new Map();
    for (var i = 0; i < n; i++) {
      var p = data.points[i];
      state.ids[i] = p.id;
      state.xs[i] = p.x;
      state.ys[i] = p.y;
      state.clusters[i] = p.cluster;
      state.index.set(p.id, i);
      state.byColour[(p.cluster - 1) % colours.length].push(i);
      var key = Math.floor(p.x / GRID) * 1000 + Math.floor(p.y / GRID);
      var cell = state.grid.get(key);
      if (cell) cell.push(i); else state.grid.set(key, [i]);
    }
    state.byColour = state.byColour.map(function (list) { return Int32Array.from(list); });
    state.clusterList = data.clusters;
    window.exploreMap.points = n;
  }

  function resize() {
    var box = stage.getBoundingClientRect();
    state.ratio = window.devicePixelRatio || 1;
    state.width = box.width;
    state.height = box.height;
    canvas.width = Math.round(box.width * state.ratio);
    canvas.height = Math.round(box.height * state.ratio);
    requestDraw();
  }

  function fit() {
    var size = Math.min(state.width, state.height);
    state.scale = (size * 0.94) / 1000;
    state.tx = (state.width - 1000 * state.scale) / 2;
    state.ty = (state.height - 1000 * state.scale) / 2;
    requestDraw();
  }

  function toScreen(x, y) {
    return [x * state.scale + state.tx, y * state.scale + state.ty];
  }

  function requestDraw() {
    if (drawPending) return;
    drawPending = true;
    requestAnimationFrame(function () {
      drawPending = false;
      draw();
    });
  }

  // Colours as the pixels of an ImageData hold them (RGBA bytes, read as one little-endian word).
  function packed(hex) {
    var n = parseInt(hex.slice(1), 16);
    return (0xff << 24) | ((n & 0xff) << 16) | (n & 0xff00) | ((n >> 16) & 0xff);
  }
  var BACKGROUND = packed("#fafbfd"), GREY = packed("#d3d8e0");
  var packedColours = colours.map(packed);
  var frame = null; // {image, pixels}, the size of the canvas

  // Points are written straight into pixels (a few per point), then put on the canvas in one
  // call: at 50,000 points this is many times faster than a fillRect per point.
  function draw() {
    var started = performance.now();
    var r = state.ratio, w = canvas.width, h = canvas.height;
    if (!frame || frame.image.width !== w || frame.image.height !== h) {
      var image = ctx.createImageData(w, h);
      frame = { image: image, pixels: new Uint32Array(image.data.buffer) };
    }
    var pixels = frame.pixels;
    pixels.fill(BACKGROUND);
    if (state.xs) {
      // Points grow as the map is zoomed, and are bigger where there are few of them.
      var sparse = Math.sqrt(Math.max(1, 50000 / state.xs.length));
      var size = Math.max(2, Math.min(9, 1.4 + state.scale * 1.3 * Math.sqrt(sparse)));
      var side = Math.max(1, Math.round(size * r));
      var s = state.scale * r, tx = state.tx * r - side / 2, ty = state.ty * r - side / 2;
      var xs = state.xs, ys = state.ys, dimmed = state.dimmed;
      if (dimmed) stamp(pixels, w, h, side, s, tx, ty, xs, ys, dimmed, 1, GREY);
      for (var c = 0; c < state.byColour.length; c++) {
        stampList(pixels, w, h, side, s, tx, ty, xs, ys, state.byColour[c], dimmed, packedColours[c]);
      }
    }
    ctx.putImageData(frame.image, 0, 0);
    if (!state.xs) return;
    ctx.setTransform(r, 0, 0, r, 0, 0);
    drawLabels();
    drawHighlights(size);
    state.frames.push(performance.now() - started);
    if (state.frames.length > 600) state.frames.shift();
  }

  // A point is a disc of ``side`` pixels: for each row, the columns it covers.
  var discs = {};
  function disc(side) {
    if (!discs[side]) {
      var spans = [], radius = side / 2;
      for (var dy = 0; dy < side; dy++) {
        var y = dy + 0.5 - radius, half = Math.sqrt(Math.max(0, radius * radius - y * y));
        var from = Math.max(0, Math.round(radius - half)), to = Math.min(side, Math.round(radius + half));
        spans.push(side < 4 ? [0, side] : [from, to]);
      }
      discs[side] = spans;
    }
    return discs[side];
  }

  function square(pixels, w, h, side, px, py, colour) {
    if (px < 0 || py < 0 || px + side > w || py + side > h) return;
    var spans = disc(side);
    for (var dy = 0; dy < side; dy++) {
      var row = (py + dy) * w + px;
      for (var dx = spans[dy][0]; dx < spans[dy][1]; dx++) pixels[row + dx] = colour;
    }
  }

  function stamp(pixels, w, h, side, s, tx, ty, xs, ys, dimmed, wanted, colour) {
    for (var i = 0; i < xs.length; i++) {
      if (dimmed[i] === wanted) square(pixels, w, h, side, (xs[i] * s + tx) | 0, (ys[i] * s + ty) | 0, colour);
    }
  }

  function stampList(pixels, w, h, side, s, tx, ty, xs, ys, list, dimmed, colour) {
    for (var j = 0; j < list.length; j++) {
      var i = list[j];
      if (dimmed && dimmed[i]) continue;
      square(pixels, w, h, side, (xs[i] * s + tx) | 0, (ys[i] * s + ty) | 0, colour);
    }
  }

  function drawLabels() {
    ctx.font = "600 13px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    var placed = [];
    var controls = controlsBox();
    state.labelBoxes = placed;
    var ordered = state.clusterList.slice().sort(function (a, b) { return b.size - a.size; });
    ordered.forEach(function (cluster) {
      var at = toScreen(cluster.x, cluster.y);
      var w = ctx.measureText(cluster.label).width + 10;
      at[0] = Math.min(Math.max(at[0], w / 2 + 4), state.width - w / 2 - 4); // wholly in view
      var box = [at[0] - w / 2, at[1] - 10, w, 20];
      if (box[0] + w < 0 || box[0] > state.width || box[1] + 20 < 0 || box[1] > state.height) return;
      if (controls && overlap(box, controls)) {
        box[0] = controls[0] - w - 4; // moved left of the zoom buttons, or left out
        at[0] = box[0] + w / 2;
        if (box[0] < 4) return;
      }
      if (placed.some(function (o) { return overlap(box, o); })) return;
      placed.push(box);
      ctx.fillStyle = "rgba(255,255,255,0.86)";
      ctx.beginPath();
      if (ctx.roundRect) ctx.roundRect(box[0], box[1], box[2], box[3], 6); else ctx.rect(box[0], box[1], box[2], box[3]);
      ctx.fill();
      ctx.fillStyle = "#1d2330";
      ctx.fillText(cluster.label, at[0], at[1] + 1);
    });
  }

  function overlap(a, b) {
    return a[0] < b[0] + b[2] && b[0] < a[0] + a[2] && a[1] < b[1] + b[3] && b[1] < a[1] + a[3];
  }

  // Where the zoom buttons sit over the canvas ([x, y, w, h]), so no label is drawn under them.
  function controlsBox() {
    var zoom = stage.querySelector(".map-zoom");
    if (!zoom || zoom.hidden) return null;
    var r = zoom.getBoundingClientRect(), c = canvas.getBoundingClientRect();
    return [r.left - c.left - 4, r.top - c.top - 4, r.width + 8, r.height + 8];
  }

  function drawHighlights(size) {
    ctx.lineWidth = 2.5;
    state.highlighted.forEach(function (i, rank) {
      var at = toScreen(state.xs[i], state.ys[i]);
      ctx.strokeStyle = rank === 0 ? "#c2185b" : "#1d2330";
      ctx.beginPath();
      ctx.arc(at[0], at[1], size + 4, 0, Math.PI * 2);
      ctx.stroke();
    });
    if (state.queryPoint) {
      var q = toScreen(state.queryPoint[0], state.queryPoint[1]);
      ctx.fillStyle = "#c2185b";
      ctx.strokeStyle = "#fff";
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(q[0], q[1] - 11);
      ctx.lineTo(q[0] + 9, q[1]);
      ctx.lineTo(q[0], q[1] + 11);
      ctx.lineTo(q[0] - 9, q[1]);
      ctx.closePath();
      ctx.fill();
      ctx.stroke();
    }
    if (state.hover >= 0) {
      var h = toScreen(state.xs[state.hover], state.ys[state.hover]);
      ctx.strokeStyle = "#f0a500";
      ctx.lineWidth = 3;
      ctx.beginPath();
      ctx.arc(h[0], h[1], size + 3, 0, Math.PI * 2);
      ctx.stroke();
    }
  }

  // Finding the point under the pointer -------------------------------------------------------

  function pointAt(px, py) {
    var x = (px - state.tx) / state.scale, y = (py - state.ty) / state.scale;
    var reach = HIT_PX / state.scale;
    var best = -1, bestDistance = reach * reach;
    var cells = Math.ceil(reach / GRID);
    var cx = Math.floor(x / GRID), cy = Math.floor(y / GRID);
    for (var gx = cx - cells; gx <= cx + cells; gx++) {
      for (var gy = cy - cells; gy <= cy + cells; gy++) {
        var cell = state.grid.get(gx * 1000 + gy);
        if (!cell) continue;
        for (var j = 0; j < cell.length; j++) {
          var i = cell[j];
          if (state.dimmed && state.dimmed[i]) continue;
          var d = (state.xs[i] - x) * (state.xs[i] - x) + (state.ys[i] - y) * (state.ys[i] - y);
          if (d < bestDistance) { bestDistance = d; best = i; }
        }
      }
    }
    return best;
  }

  function company(id) {
    if (!companyCache.has(id)) {
      var url = stage.dataset.companyApi.replace(/0\/$/, id + "/");
      companyCache.set(id, fetch(url, { headers: { Accept: "application/json" } }).then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      }));
    }
    return companyCache.get(id);
  }

  function firstLine(text) {
    var line = (text || "").split(/\n|(?<=[.!?])\s/)[0].trim();
    return line.length > 140 ? line.slice(0, 139) + "…" : line;
  }

  function showCard(i, px, py) {
    var id = state.ids[i];
    card.dataset.company = id;
    company(id).then(function (c) {
      if (String(card.dataset.company) !== String(id) || state.hover !== i) return;
      card.textContent = "";
      var name = document.createElement("strong");
      name.textContent = c.name;
      card.appendChild(name);
      if (c.city) {
        var city = document.createElement("span");
        city.className = "city";
        city.textContent = c.city;
        card.appendChild(city);
      }
      var line = document.createElement("p");
      line.textContent = firstLine(c.description) || c.tags;
      card.appendChild(line);
      card.hidden = false;
      var left = Math.min(px + 14, state.width - card.offsetWidth - 8);
      var top = py + 14 + card.offsetHeight > state.height ? py - card.offsetHeight - 14 : py + 14;
      card.style.left = Math.max(8, left) + "px";
      card.style.top = Math.max(8, top) + "px";
    }).catch(function () {});
  }

  function hover(px, py) {
    var i = pointAt(px, py);
    if (i === state.hover) return;
    state.hover = i;
    canvas.classList.toggle("pointing", i >= 0);
    if (i >= 0) showCard(i, px, py); else card.hidden = true;
    requestDraw();
  }

  function open(i) {
    company(state.ids[i]).then(function (c) {
      window.location.href = stage.dataset.companyUrl.replace("__slug__", c.slug);
    });
  }

  // Pan and zoom -------------------------------------------------------------------------------

  function zoomAt(factor, px, py) {
    var scale = Math.max(0.2, Math.min(60, state.scale * factor));
    factor = scale / state.scale;
    state.tx = px - (px - state.tx) * factor;
    state.ty = py - (py - state.ty) * factor;
    state.scale = scale;
    card.hidden = true;
    state.hover = -1;
    requestDraw();
  }

  var pointers = new Map();
  var drag = null;

  function local(event) {
    var box = canvas.getBoundingClientRect();
    return [event.clientX - box.left, event.clientY - box.top];
  }

  canvas.addEventListener("pointerdown", function (event) {
    canvas.setPointerCapture(event.pointerId);
    pointers.set(event.pointerId, local(event));
    drag = { start: local(event), moved: false, tx: state.tx, ty: state.ty, pinch: null };
    if (pointers.size === 2) {
      var pts = Array.from(pointers.values());
      drag.pinch = Math.hypot(pts[0][0] - pts[1][0], pts[0][1] - pts[1][1]);
    }
  });
  canvas.addEventListener("pointermove", function (event) {
    var at = local(event);
    if (!drag) { hover(at[0], at[1]); return; }
    pointers.set(event.pointerId, at);
    if (pointers.size === 2 && drag.pinch) {
      var pts = Array.from(pointers.values());
      var distance = Math.hypot(pts[0][0] - pts[1][0], pts[0][1] - pts[1][1]);
      zoomAt(distance / drag.pinch, (pts[0][0] + pts[1][0]) / 2, (pts[0][1] + pts[1][1]) / 2);
      drag.pinch = distance;
      drag.moved = true;
      return;
    }
    var dx = at[0] - drag.start[0], dy = at[1] - drag.start[1];
    if (!drag.moved && Math.hypot(dx, dy) < 4) return;
    drag.moved = true;
    canvas.classList.add("dragging");
    state.tx = drag.tx + dx;
    state.ty = drag.ty + dy;
    card.hidden = true;
    requestDraw();
  });
  function release(event) {
    pointers.delete(event.pointerId);
    canvas.classList.remove("dragging");
    if (drag && !drag.moved && event.type === "pointerup") {
      var at = local(event);
      var i = pointAt(at[0], at[1]);
      // A mouse opens at once; a finger first shows the card, and opens on a second tap.
      if (i >= 0 && (event.pointerType === "mouse" || state.hover === i)) open(i);
      else if (i >= 0) { state.hover = i; showCard(i, at[0], at[1]); requestDraw(); }
    }
    if (pointers.size === 0) drag = null;
  }
  canvas.addEventListener("pointerup", release);
  canvas.addEventListener("pointercancel", release);
  canvas.addEventListener("pointerleave", function () {
    if (drag) return;
    state.hover = -1;
    card.hidden = true;
    requestDraw();
  });
  canvas.addEventListener("wheel", function (event) {
    event.preventDefault();
    var at = local(event);
    zoomAt(Math.exp(-event.deltaY * 0.0015), at[0], at[1]);
  }, { passive: false });
  canvas.addEventListener("keydown", function (event) {
    var step = 40, handled = true;
    if (event.key === "+" || event.key === "=") zoomAt(1.4, state.width / 2, state.height / 2);
    else if (event.key === "-") zoomAt(1 / 1.4, state.width / 2, state.height / 2);
    else if (event.key === "ArrowLeft") state.tx += step;
    else if (event.key === "ArrowRight") state.tx -= step;
    else if (event.key === "ArrowUp") state.ty += step;
    else if (event.key === "ArrowDown") state.ty -= step;
    else if (event.key === "0") fit();
    else handled = false;
    if (handled) { event.preventDefault(); requestDraw(); }
  });
  stage.querySelector(".map-zoom").addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button) return;
    if (button.dataset.zoom === "reset") fit();
    else zoomAt(button.dataset.zoom === "in" ? 1.5 : 1 / 1.5, state.width / 2, state.height / 2);
  });
  window.addEventListener("resize", function () {
    var before = state.width;
    resize();
    if (before) {
      var factor = state.width / before;
      state.scale *= factor; state.tx *= factor; state.ty *= factor;
    }
  });

  // Search and city ----------------------------------------------------------------------------

  function search(query, city) {
    var params = new URLSearchParams({ q: query, limit: "20" });
    if (city) params.append("city", city);
    return fetch(stage.dataset.searchUrl + "?" + params, { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(new Error("HTTP " + r.status)); })
      .then(function (data) {
        var found = data.results;
        var shown = found.filter(function (c) { return state.index.has(c.id); });
        state.highlighted = shown.map(function (c) { return state.index.get(c.id); });
        state.queryPoint = placeQuery(state.highlighted.slice(0, 5));
        listHits(query, found);
        if (state.queryPoint) centreOn(state.queryPoint);
        requestDraw();
      })
      .catch(function () { setStatus("Search is unavailable at the moment."); });
  }

  // The query lands where its best matches are: their mean, the best counting most.
  function placeQuery(indices) {
    if (!indices.length) return null;
    var x = 0, y = 0, total = 0;
    indices.forEach(function (i, rank) {
      var w = 1 / (rank + 1);
      x += state.xs[i] * w; y += state.ys[i] * w; total += w;
    });
    return [x / total, y / total];
  }

  function centreOn(point) {
    var at = toScreen(point[0], point[1]);
    state.tx += state.width / 2 - at[0];
    state.ty += state.height / 2 - at[1];
  }

  function listHits(query, companies) {
    resultsBox.hidden = false;
    resultsTitle.textContent = companies.length ? "Best matches for “" + query + "”" : "No companies match “" + query + "”";
    hitsList.textContent = "";
    companies.forEach(function (c) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = stage.dataset.companyUrl.replace("__slug__", c.slug);
      a.textContent = c.name;
      a.dataset.company = c.id;
      li.appendChild(a);
      if (c.city) {
        var city = document.createElement("span");
        city.className = "city";
        city.textContent = c.city;
        li.append(" ", city);
      }
      hitsList.appendChild(li);
    });
    var params = new URLSearchParams({ q: query });
    if (citySelect.value) params.append("city", citySelect.value);
    links.textContent = "";
    var list = document.createElement("a");
    list.href = "/search/?" + params;
    list.textContent = "See them as a list";
    var feed = document.createElement("a");
    feed.href = "/search/feed/?" + params;
    feed.className = "feed-link";
    feed.textContent = "Follow this search";
    links.append(list, " · ", feed);
  }

  function filterCity(city) {
    if (!city) {
      state.dimmed = null;
      requestDraw();
      return Promise.resolve();
    }
    var params = new URLSearchParams({ city: city });
    return fetch(stage.dataset.mapUrl + "?" + params, { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(new Error("HTTP " + r.status)); })
      .then(function (data) {
        var dimmed = new Uint8Array(state.ids.length).fill(1);
        data.points.forEach(function (p) {
          var i = state.index.get(p.id);
          if (i !== undefined) dimmed[i] = 0;
        });
        state.dimmed = dimmed;
        requestDraw();
      });
  }

  function remember() {
    var params = new URLSearchParams();
    if (queryInput.value.trim()) params.set("q", queryInput.value.trim());
    if (citySelect.value) params.set("city", citySelect.value);
    history.replaceState(null, "", location.pathname + (params.toString() ? "?" + params : ""));
  }

  form.addEventListener("submit", function (event) {
    if (!state.xs) return; // the map did not load: the page reloads with the picture
    event.preventDefault();
    remember();
    var query = queryInput.value.trim();
    filterCity(citySelect.value);
    if (query) search(query, citySelect.value);
    else { state.highlighted = []; state.queryPoint = null; resultsBox.hidden = true; requestDraw(); }
  });
  citySelect.addEventListener("change", function () {
    if (!state.xs) return;
    remember();
    filterCity(citySelect.value);
    if (queryInput.value.trim()) search(queryInput.value.trim(), citySelect.value);
  });
  hitsList.addEventListener("mouseover", function (event) {
    var link = event.target.closest("a[data-company]");
    if (!link || !state.xs) return;
    var i = state.index.get(Number(link.dataset.company));
    if (i === undefined || i === state.hover) return;
    state.hover = i;
    requestDraw();
  });

  // For the browser tests: the state, and the time frames take while panning and zooming.
  window.exploreMap = {
    state: state,
    points: 0,
    screenOf: function (id) {
      var i = state.index.get(id);
      return i === undefined ? null : toScreen(state.xs[i], state.ys[i]);
    },
    measureFrames: function (count) {
      return new Promise(function (resolve) {
        var times = [], last = performance.now(), n = 0;
        state.frames = [];
        function step(now) {
          times.push(now - last);
          last = now;
          zoomAt(n % 40 < 20 ? 1.03 : 1 / 1.03, state.width / 2, state.height / 2);
          state.tx += n % 2 ? 3 : -3;
          if (++n < count) requestAnimationFrame(step);
          else requestAnimationFrame(function () {
            resolve({ intervals: times.slice(1), draws: state.frames.slice() });
          });
        }
        requestAnimationFrame(step);
      });
    },
  };

  load();
})();
