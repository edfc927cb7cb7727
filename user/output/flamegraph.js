// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// The flame graph's script, embedded in every SVG cowtrace writes (user/output/flamegraph.c,
// through build/flamegraph_js.h, made from this file by the Makefile). It reads the graph back
// from the DOM (titles, rect geometry, document order): nothing is generated into it, so no
// frame name needs JavaScript escaping. Frames come in pre-order, so a frame's descendants are
// the drawn frames that follow it up to the next one no deeper than it. Checked by node
// (tests/render/test_flamegraph_render.py). Plain ES5, no dependencies: it runs offline in any
// browser. It must not hold the end of a CDATA section (it is inside one).
(function () {
	'use strict';
	var doc = document;
	var frames = doc.getElementById('frames'), svgNS = frames.namespaceURI;
	var details = doc.getElementById('details');
	var resetBtn = doc.getElementById('reset');
	var searchBtn = doc.getElementById('search');
	var matched = doc.getElementById('matched');
	var num = function (name) { return parseFloat(frames.getAttribute(name)); };
	var x0 = num('data-x0'), fullW = num('data-width'), fh = num('data-fh');
	var base = num('data-base'), total = num('data-total'), charW = num('data-charw');
	var highlight = frames.getAttribute('data-highlight');
	var hint = details.textContent;
	var gs = [], names = [], titles = [], vals = [], xs = [], ws = [], depth = [];
	var fills = [], parent = [], end = [], index = new Map();
	var g, i, n, stack = [];
	for (g = frames.firstElementChild; g; g = g.nextElementSibling) {
		var t = g.firstElementChild, r = t.nextElementSibling;
		var title = t.textContent, k = title.lastIndexOf(' \u2014 ');
		index.set(g, gs.length);
		gs.push(g);
		titles.push(title);
		names.push(k >= 0 ? title.slice(0, k) : title);
		vals.push(k >= 0 ? parseFloat(title.slice(k + 3)) : 0);
		xs.push(parseFloat(r.getAttribute('x')));
		ws.push(parseFloat(r.getAttribute('width')));
		depth.push(Math.round((base - parseFloat(r.getAttribute('y'))) / fh));
		fills.push(r.getAttribute('fill'));
	}
	n = gs.length;
	for (i = 0; i < n; i++) {
		while (stack.length && depth[stack[stack.length - 1]] >= depth[i])
			end[stack.pop()] = i;
		parent[i] = stack.length ? stack[stack.length - 1] : -1;
		stack.push(i);
	}
	while (stack.length)
		end[stack.pop()] = n;

	function label(name, w) {
		var fit = Math.floor((w - 6) / charW), cps;
		if (fit < 3)
			return '';
		cps = Array.from(name);
		return cps.length <= fit ? name : cps.slice(0, fit - 2).join('') + '..';
	}
	function place(i, x, w, shown, anc) {
		var g = gs[i], r = g.children[1], t = g.children[2], text;
		g.style.display = shown ? '' : 'none';
		if (!shown)
			return;
		g.classList.toggle('anc', anc);
		r.setAttribute('x', x.toFixed(4));
		r.setAttribute('width', w.toFixed(4));
		text = label(names[i], w);
		/* frames too narrow for a label have no <text> until they need one */
		if (!t && !text)
			return;
		if (!t) {
			t = doc.createElementNS(svgNS, 'text');
			t.setAttribute('y', parseFloat(r.getAttribute('y')) + fh - 4);
			g.appendChild(t);
		}
		t.setAttribute('x', (x + 3).toFixed(4));
		t.textContent = text;
	}
	function reset() {
		for (var i = 0; i < n; i++)
			place(i, xs[i], ws[i], true, false);
		resetBtn.classList.add('off');
	}
	function zoom(z) {
		var anc = new Uint8Array(n), a, i, scale;
		if (z <= 0) {
			reset();
			return;
		}
		for (a = parent[z]; a >= 0; a = parent[a])
			anc[a] = 1;
		scale = fullW / ws[z];
		for (i = 0; i < n; i++) {
			if (i >= z && i < end[z])
				place(i, x0 + (xs[i] - xs[z]) * scale, ws[i] * scale, true, false);
			else
				place(i, x0, fullW, anc[i] === 1, true);
		}
		resetBtn.classList.remove('off');
	}
	var term = '';
	function search(q) {
		var re = null, hit = new Uint8Array(n), sum = 0, i;
		term = q || '';
		if (term) {
			try {
				re = new RegExp(term);
			} catch (e) {
				re = null;
			}
		}
		for (i = 0; i < n; i++) {
			if (term)
				hit[i] = (re ? re.test(names[i]) : names[i].indexOf(term) >= 0) ? 1 : 0;
			gs[i].children[1].setAttribute('fill', hit[i] ? highlight : fills[i]);
		}
		/* outermost matches only: a match inside a match is already counted */
		for (i = 0; i < n;) {
			if (hit[i]) {
				sum += vals[i];
				i = end[i];
			} else {
				i++;
			}
		}
		matched.textContent = term ? 'Matched: ' + (total ? 100 * sum / total : 0).toFixed(2) +
			'% of all' : '';
		searchBtn.textContent = term ? 'Search: ' + term : 'Search';
	}
	function ask() {
		var q = window.prompt('Highlight frames matching (regular expression or text):', term);
		if (q !== null)
			search(q);
	}
	function target(e) {
		var i = index.get(e.target.parentNode);
		return i === undefined ? -1 : i;
	}
	frames.addEventListener('mouseover', function (e) {
		var i = target(e);
		if (i >= 0)
			details.textContent = titles[i];
	});
	frames.addEventListener('mouseout', function () {
		details.textContent = hint;
	});
	frames.addEventListener('click', function (e) {
		var i = target(e);
		if (i >= 0)
			zoom(i);
	});
	resetBtn.addEventListener('click', reset);
	searchBtn.addEventListener('click', ask);
	doc.addEventListener('keydown', function (e) {
		if (((e.ctrlKey || e.metaKey) && (e.key === 'f' || e.key === 'F')) || e.key === 'F3') {
			e.preventDefault();
			ask();
		} else if (e.key === 'Escape') {
			reset();
			search('');
		}
	});
	/* #search=TEXT&zoom=NAME: a state to link to (and to test without a mouse) */
	function fromHash() {
		var parts = location.hash.replace(/^#/, '').split('&');
		reset();
		search('');
		parts.forEach(function (kv) {
			var eq = kv.indexOf('='), key, val, best = -1, i;
			if (eq < 0)
				return;
			key = kv.slice(0, eq);
			try {
				val = decodeURIComponent(kv.slice(eq + 1));
			} catch (e) {
				return;
			}
			if (key === 'search') {
				search(val);
			} else if (key === 'zoom') {
				for (i = 0; i < n; i++) {
					if (names[i] === val && (best < 0 || ws[i] > ws[best]))
						best = i;
				}
				if (best >= 0)
					zoom(best);
			}
		});
	}
	window.addEventListener('hashchange', fromHash);
	if (location.hash.length > 1)
		fromHash();
	// taller than the window: open on the root and the widest frames, at the bottom, not
	// on the blank space above the deepest stacks
	window.scrollTo(0, Math.max(0, (+doc.documentElement.getAttribute('height') || 0) -
		window.innerHeight));
})();
