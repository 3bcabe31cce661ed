// Injected into a copy of report.html by test_report_browser.py. On load it measures the page
// (the viewport, horizontal overflow, where the answer sits, every table's right edge), checks
// that every figure decoded and is not blank, and appends the result as JSON in a hidden pre
// element with id browser-check (hidden, so that it cannot itself widen the page).
window.addEventListener("load", () => {
  const root = document.documentElement;
  const bottom = sel => {
    const el = document.querySelector(sel);
    return el ? el.getBoundingClientRect().bottom + window.scrollY : -1;
  };
  const layout = {
    viewport: {width: window.innerWidth, height: window.innerHeight},
    scrollWidth: root.scrollWidth, clientWidth: root.clientWidth,
    findingsBottom: bottom("#answer table.findings"),
    matrixBottom: bottom("#answer table.matrix"),
    findingsRows: [...document.querySelectorAll("#answer table.findings tbody tr")].map(
      tr => [...tr.cells].map(td => td.innerText.trim())),
    wideTables: [...document.querySelectorAll("table")].filter(
      t => t.getBoundingClientRect().right > root.clientWidth + 0.5).map(
      t => (t.closest("section") || {id: "answer"}).id),
    firstSection: (document.querySelector("body > *:not(h1):not(p)") || {}).id || "",
  };
  const out = [];
  for (const img of document.images) {
    const r = {alt: img.alt, complete: img.complete, width: img.naturalWidth,
               height: img.naturalHeight, inked: -1, colors: -1};
    try {
      const c = document.createElement("canvas");
      c.width = img.naturalWidth; c.height = img.naturalHeight;
      const ctx = c.getContext("2d");
      ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, c.width, c.height);
      ctx.drawImage(img, 0, 0);
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      let inked = 0; const colors = new Set();
      for (let i = 0; i < d.length; i += 4) {
        if (d[i] < 240 || d[i + 1] < 240 || d[i + 2] < 240) inked++;
        if (colors.size < 1000) colors.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
      }
      r.inked = inked / (d.length / 4); r.colors = colors.size;
    } catch (e) { r.error = String(e); }
    out.push(r);
  }
  const sections = [...document.querySelectorAll("section")].map(
    s => ({id: s.id, text: s.innerText.length, height: s.getBoundingClientRect().height}));
  const toc = [...document.querySelectorAll("nav a")].map(a => a.getAttribute("href"));
  const pre = document.createElement("pre");
  pre.id = "browser-check";
  pre.style.display = "none";
  pre.textContent = JSON.stringify({images: out, sections, toc, layout});
  document.body.appendChild(pre);
});
