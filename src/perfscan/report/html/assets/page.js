/* perfscan's HTML report: the page's only script (plain ES5, no library).
   It sorts and filters the findings table, expands rows, draws the CPU icicle chart from the report
   embedded in the page (passes.cpu.data.flame), zooms it, and highlights a selected finding's frames,
   waterfall bar or memory bar. It only ever writes text with textContent and attributes with
   setAttribute, never HTML. */
(function () {
  "use strict";
  var doc = document;
  var data = {};
  try { data = JSON.parse(doc.getElementById("perfscan-data").textContent) || {}; } catch (err) { data = {}; }
  function all(sel, root) { return Array.prototype.slice.call((root || doc).querySelectorAll(sel)); }

  /* ---- the findings table: filter, sort, expand ---- */
  var table = doc.getElementById("findings-table");
  var groups = table ? all("tbody.finding-group", table) : [];
  var fDomain = doc.getElementById("f-domain"), fSev = doc.getElementById("f-sev");
  function applyFilter() {
    var d = fDomain ? fDomain.value : "", s = fSev ? fSev.value : "", shown = 0;
    groups.forEach(function (g) {
      var ok = (!d || g.getAttribute("data-domain") === d) && (!s || g.getAttribute("data-severity") === s);
      g.hidden = !ok;
      if (ok) shown++;
    });
    var c = doc.getElementById("findings-count");
    if (c) c.textContent = shown + " of " + groups.length;
  }
  if (fDomain) fDomain.addEventListener("change", applyFilter);
  if (fSev) fSev.addEventListener("change", applyFilter);

  var sortKey = "rank", sortDir = 1;
  all("button.sort", table || doc).forEach(function (b) {
    b.addEventListener("click", function () {
      var key = b.getAttribute("data-key"), num = b.getAttribute("data-type") === "num";
      sortDir = sortKey === key ? -sortDir : (key === "mag" ? -1 : 1);
      sortKey = key;
      groups.sort(function (a, c) {
        var x = a.getAttribute("data-" + key), y = c.getAttribute("data-" + key), r;
        r = num ? parseFloat(x) - parseFloat(y) : (x < y ? -1 : x > y ? 1 : 0);
        return r * sortDir || parseFloat(a.getAttribute("data-rank")) - parseFloat(c.getAttribute("data-rank"));
      });
      groups.forEach(function (g) { table.appendChild(g); });
      all("th", table).forEach(function (th) { th.removeAttribute("aria-sort"); });
      b.parentNode.setAttribute("aria-sort", sortDir > 0 ? "ascending" : "descending");
    });
  });

  function setOpen(g, open) {
    var btn = g.querySelector("button.expand"), det = g.querySelector("tr.detail");
    if (btn) btn.setAttribute("aria-expanded", open ? "true" : "false");
    if (det) det.hidden = !open;
  }
  groups.forEach(function (g) {
    var btn = g.querySelector("button.expand");
    if (!btn) return;
    btn.addEventListener("click", function () {
      var open = btn.getAttribute("aria-expanded") !== "true";
      setOpen(g, open);
      select(open ? g : (selected === g ? null : selected));
    });
  });

  /* ---- selecting a finding highlights its frames and bars ---- */
  var selected = null, flame = null;
  function select(g) {
    if (selected) selected.classList.remove("selected");
    selected = g;
    all(".wf-row.hl, .mem-row.hl").forEach(function (el) { el.classList.remove("hl"); });
    var q = g ? g.getAttribute("data-qualname") : null, d = g ? g.getAttribute("data-domain") : null;
    if (g) g.classList.add("selected");
    if (d === "import") {
      var m = g.getAttribute("data-module") || q;
      all(".wf-row").forEach(function (r) { if (r.getAttribute("data-module") === m) r.classList.add("hl"); });
    } else if (d === "memory") {
      all(".mem-row").forEach(function (r) { if (r.getAttribute("data-qualname") === q) r.classList.add("hl"); });
    }
    if (flame) { flame.highlight = d === "cpu" ? q : null; if (flame.highlight) flame.focus = flame.root; flame.draw(false); }
  }
  function openRank(rank) {
    var g = doc.getElementById("finding-" + rank);
    if (!g) return;
    if (g.hidden) { if (fDomain) fDomain.value = ""; if (fSev) fSev.value = ""; applyFilter(); }
    setOpen(g, true);
    select(g);
  }
  function fromHash() {
    var m = /^#finding-(\d+)$/.exec(window.location.hash || "");
    if (m) openRank(m[1]);
  }
  window.addEventListener("hashchange", fromHash);
  doc.addEventListener("click", function (ev) {
    var a = ev.target && ev.target.closest ? ev.target.closest("a[data-rank]") : null;
    if (a && !a.classList.contains("show")) openRank(a.getAttribute("data-rank"));
  });

  /* ---- the CPU icicle chart ---- */
  var chart = doc.getElementById("flame-chart");
  var cpuData = (((data.report || {}).passes || {}).cpu || {}).data || {};
  if (chart && cpuData.flame && cpuData.flame.c) {
    var ROW = 22, root = cpuData.flame, width = 1000;
    var trees = { cpu: cpuData.flame, wall: (cpuData.flame_wall && cpuData.flame_wall.c) ? cpuData.flame_wall : null };
    var wall = parseFloat(chart.getAttribute("data-wall")) || root.t || 1;
    var info = doc.getElementById("flame-info"), reset = doc.getElementById("flame-reset");
    var ranks = {};
    ((data.report || {}).findings || []).forEach(function (f) {
      if (f.domain === "cpu" && !(f.qualname in ranks)) ranks[f.qualname] = f.rank;
    });
    [trees.cpu, trees.wall].forEach(function (tree) {
      var stack = tree ? [[tree, null]] : [];
      while (stack.length) {
        var item = stack.pop(), node = item[0];
        node.p = item[1];
        for (var i = 0; i < node.c.length; i++) stack.push([node.c[i], node]);
      }
    });
    var fmt = function (t) { return t >= 1 ? t.toFixed(2) + " s" : (t * 1000).toFixed(t < 0.01 ? 2 : 1) + " ms"; };
    var describe = function (n) {
      return (n.q || n.n) + (n.f ? " \u00b7 " + n.f : "") + " \u00b7 " + fmt(n.t) + " (" +
        (100 * n.t / wall).toFixed(1) + "% of profiled test time)" + (ranks[n.q] ? " \u00b7 finding #" + ranks[n.q] : "");
    };
    flame = { root: root, focus: root, highlight: null };
    var bar = function (n, x, w, depth, isAnc) {
      var b = doc.createElement("button");
      b.type = "button";
      var cls = "fr k-" + n.k;
      if (isAnc) cls += " anc";
      if (ranks[n.q]) cls += " finding";
      if (flame.highlight && n.q === flame.highlight) cls += " hl";
      b.className = cls;
      b.style.left = (x * 100).toFixed(4) + "%";
      b.style.width = (w * 100).toFixed(4) + "%";
      b.style.top = (depth * ROW) + "px";
      if (n.q) b.setAttribute("data-qualname", n.q);
      if (w * width >= 28) b.textContent = (ranks[n.q] ? "#" + ranks[n.q] + " " : "") + n.n;
      b.setAttribute("aria-label", describe(n));
      b.title = describe(n);
      var show = function () { if (info) info.textContent = describe(n); };
      b.addEventListener("mouseenter", show);
      b.addEventListener("focus", show);
      b.addEventListener("click", function () {
        flame.focus = (n === flame.focus && n.p) ? n.p : n;
        flame.draw(true);
      });
      return b;
    };
    flame.draw = function (keepFocus) {
      var frag = doc.createDocumentFragment(), maxDepth = 0, focus = flame.focus, focusEl = null;
      width = chart.clientWidth || 1000;
      var anc = [];
      for (var a = focus.p; a; a = a.p) anc.unshift(a);
      anc.forEach(function (a, i) { frag.appendChild(bar(a, 0, 1, i, true)); });
      var place = function (n, x, w, depth) {
        if (w < 0.0012) return;
        var el = bar(n, x, w, depth, false);
        if (n === focus) focusEl = el;
        frag.appendChild(el);
        if (depth > maxDepth) maxDepth = depth;
        var cx = x;
        n.c.forEach(function (c) {
          var cw = n.t > 0 ? w * c.t / n.t : 0;
          place(c, cx, cw, depth + 1);
          cx += cw;
        });
      };
      place(focus, 0, 1, anc.length);
      chart.textContent = "";
      chart.appendChild(frag);
      chart.style.height = ((maxDepth + 1) * ROW) + "px";
      chart.classList.toggle("dim", !!flame.highlight);
      if (reset) reset.disabled = focus === root;
      if (keepFocus && focusEl) focusEl.focus();
    };
    if (reset) reset.addEventListener("click", function () { flame.focus = root; flame.draw(false); });
    ["cpu", "wall"].forEach(function (clock) {
      var btn = doc.getElementById("flame-" + clock);
      if (!btn || !trees[clock]) return;
      btn.addEventListener("click", function () {
        root = flame.root = flame.focus = trees[clock];
        ["cpu", "wall"].forEach(function (k) {
          var other = doc.getElementById("flame-" + k);
          if (other) other.setAttribute("aria-pressed", k === clock ? "true" : "false");
        });
        chart.setAttribute("aria-label", clock === "wall" ? "Wall time icicle chart" : "CPU icicle chart");
        flame.draw(false);
      });
    });
    chart.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape" && flame.focus !== root) { flame.focus = root; flame.draw(true); }
    });
    flame.draw(false);
  }
  fromHash();
})();
