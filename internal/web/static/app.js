// grpipe's few lines of script. Every page works without them; with them:
//  - a page that shows a queued or running run (body[data-live-run]) follows
//    it: it polls the JSON API every 2 s, colours the graph's tasks and the
//    grid's squares as their states change, and refreshes the page's main
//    part in place (no reload) when something changed, until the run ends;
//  - a page that shows changing state without a run (body[data-refresh],
//    the workers) refreshes its main part in place every few seconds;
//  - a book cover that fails to load gives way to its placeholder;
//  - hovering a chart's mark shows its text at once (the SVG <title> still
//    serves screen readers and pages without script).
(function () {
  "use strict";
  var body = document.body;

  // --- Cover images ------------------------------------------------------
  function watchCovers(root) {
    root.querySelectorAll(".cover img").forEach(function (img) {
      var fail = function () { img.parentNode.classList.add("failed"); };
      img.addEventListener("error", fail);
      if (img.complete && img.naturalWidth === 0 && img.currentSrc) fail();
    });
  }
  watchCovers(document);

  // --- Tooltips ----------------------------------------------------------
  var tip = document.createElement("div");
  tip.className = "tooltip";
  tip.setAttribute("role", "tooltip");
  tip.hidden = true;
  body.appendChild(tip);
  // The <title> of the mark under the pointer is lifted out while the
  // pointer is on it, so the browser's own (slower) tooltip does not
  // show the same text a second time; it is put back when the pointer leaves.
  var lifted = null; // {node, title}
  function putBack() {
    if (lifted) { lifted.node.insertBefore(lifted.title, lifted.node.firstChild); lifted = null; }
    tip.hidden = true;
  }
  function markTitle(el, root) {
    for (var n = el; n && n !== root; n = n.parentNode) {
      for (var c = n.firstElementChild; c; c = c.nextElementSibling) {
        if (c.tagName === "title") return { node: n, title: c };
      }
    }
    return null;
  }
  document.addEventListener("mouseover", function (e) {
    var el = e.target, root = el.closest && el.closest("svg.chart, svg#grid, svg#graph");
    if (lifted && lifted.node.contains(el)) return;
    putBack();
    if (!root) return;
    var m = markTitle(el, root);
    if (!m) return;
    tip.textContent = m.title.textContent;
    tip.hidden = false;
    m.node.removeChild(m.title);
    lifted = m;
  });
  document.addEventListener("mousemove", function (e) {
    if (tip.hidden) return;
    var x = e.clientX + 14, y = e.clientY + 14;
    var w = tip.offsetWidth, h = tip.offsetHeight;
    if (x + w > window.innerWidth - 8) x = e.clientX - w - 10;
    if (y + h > window.innerHeight - 8) y = e.clientY - h - 10;
    tip.style.left = (x + window.scrollX) + "px";
    tip.style.top = (y + window.scrollY) + "px";
  });
  document.addEventListener("mouseleave", putBack);

  // --- Live updates ------------------------------------------------------
  var colors = {};
  document.querySelectorAll("footer .legend[data-state]").forEach(function (el) {
    colors[el.getAttribute("data-state")] = el.getAttribute("data-color");
  });

  function typing() {
    var el = document.activeElement;
    return el && (el.tagName === "INPUT" || el.tagName === "SELECT" || el.tagName === "TEXTAREA");
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } }).then(function (r) {
      if (!r.ok) throw new Error(url + ": " + r.status);
      return r.json();
    });
  }

  // recolor paints the tasks of run on the graph and the grid.
  function recolor(run, tis) {
    tis.forEach(function (ti) {
      var state = ti.state || "";
      var color = colors[state];
      document.querySelectorAll('#graph g.node[data-task="' + ti.task_id + '"]').forEach(function (g) {
        if (g.getAttribute("data-state") === state) return;
        g.setAttribute("data-state", state);
        var rect = g.querySelector("rect");
        if (rect) {
          rect.setAttribute("stroke", color || "#aaa");
          rect.setAttribute("stroke-width", state ? "4" : "1.5");
          var t = rect.querySelector("title");
          if (t) t.textContent = ti.task_id + ": " + (state || "no status");
        }
      });
      document.querySelectorAll('#grid a.cell[data-task="' + ti.task_id + '"][data-run="' + run + '"]').forEach(function (a) {
        if (a.getAttribute("data-state") === state) return;
        a.setAttribute("data-state", state);
        var rect = a.querySelector("rect");
        if (rect && color) rect.setAttribute("fill", color);
      });
    });
  }

  // refresh replaces the page's main part with a fresh copy of the page.
  function refresh() {
    return fetch(window.location.href, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("refresh: " + r.status);
      return r.text();
    }).then(function (html) {
      var doc = new DOMParser().parseFromString(html, "text/html");
      var fresh = doc.querySelector("main"), cur = document.querySelector("main");
      if (!fresh || !cur) return null;
      if (typing()) throw new Error("the user is typing: refresh later");
      putBack();
      var open = [];
      cur.querySelectorAll("details[open]").forEach(function (d, i) { open.push(i); });
      cur.innerHTML = fresh.innerHTML;
      cur.querySelectorAll("details").forEach(function (d, i) { if (open.indexOf(i) >= 0) d.open = true; });
      watchCovers(cur);
      return doc.body.getAttribute("data-live-run");
    });
  }

  function follow(run) {
    var dag = body.getAttribute("data-dag");
    var api = "/api/v1/dags/" + encodeURIComponent(dag) + "/dagRuns/" + encodeURIComponent(run);
    var grow = body.getAttribute("data-live-grow") === "1";
    var last = null, pending = false;
    function tick() {
      Promise.all([getJSON(api), getJSON(api + "/taskInstances")]).then(function (res) {
        var state = res[0].state, tis = res[1].task_instances || [];
        var sig = state + "|" + tis.map(function (t) { return t.task_id + ":" + t.state + ":" + t.try_number; }).join(",");
        recolor(run, tis);
        var done = state === "success" || state === "failed";
        // The page was drawn while the run was going: a first answer that
        // finds it over means the page is out of date too.
        var changed = pending || (last === null ? done : sig !== last);
        last = sig;
        pending = false;
        if (!changed && !(grow && !done)) {
          if (!done) setTimeout(tick, 2000);
          return;
        }
        refresh().then(function (next) {
          body.setAttribute("data-live-run", next || "");
          if (next && next !== run) { follow(next); return; }
          if (!done) { setTimeout(tick, 2000); return; }
          document.querySelectorAll("h1 .live").forEach(function (el) { el.remove(); });
        }, function () { pending = true; setTimeout(tick, 5000); });
      }, function () { setTimeout(tick, 5000); });
    }
    tick();
  }

  var live = body.getAttribute("data-live-run");
  if (live && window.fetch && window.DOMParser) follow(live);

  // A page that follows no run but changes (the workers) is refreshed in
  // place every data-refresh seconds.
  var every = parseInt(body.getAttribute("data-refresh") || "0", 10);
  if (!live && every > 0 && window.fetch && window.DOMParser) {
    setInterval(function () { refresh().catch(function () {}); }, every * 1000);
  }
})();
